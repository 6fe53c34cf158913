"""spark-submit jobs/curate.py --conf-file conf/local.yaml [key=value ...]

Lists a corpus, probes, cleans, clips, decodes, augments and shards it into the lake, then prints a summary.
"""

from __future__ import annotations

import logging
import sys

from jobs.cli import parse, parser_for
from pipelines.curate import CurateConfig, run_curate
from pipelines.session import build_session

logger = logging.getLogger("jobs.curate")


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(CurateConfig, __doc__.strip().splitlines()[2], "jobs/curate.py")
    parser.add_argument("--run-id", help="run id (default: UTC time + random suffix)")
    args, cfg = parse(parser, CurateConfig, argv)
    if cfg is None:
        return 0
    spark = build_session(cfg.spark)
    try:
        summary = run_curate(spark, cfg, run_id=args.run_id)
    except (ValueError, FileNotFoundError) as e:
        logger.error("%s", e)
        return 2
    print(summary.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
