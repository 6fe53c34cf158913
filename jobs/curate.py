"""spark-submit jobs/curate.py --conf-file conf/local.yaml [key=value ...]

Lists a corpus, probes, cleans, clips, decodes, augments and shards it into the lake, then prints a summary.
"""

from __future__ import annotations

import sys

from jobs.cli import parse, parser_for, run_main, run_spark_job
from pipelines.curate import CurateConfig, run_curate


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(CurateConfig, __doc__.strip().splitlines()[2], "jobs/curate.py")
    parser.add_argument("--run-id", help="run id (default: UTC time + random suffix)")
    args, cfg = parse(parser, CurateConfig, argv)
    if cfg is None:
        return 0
    return run_spark_job(cfg.spark, lambda spark: run_curate(spark, cfg, run_id=args.run_id), cfg.input_uri,
                         cfg.lake_uri)


if __name__ == "__main__":
    sys.exit(run_main(main))
