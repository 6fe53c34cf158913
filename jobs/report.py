"""python jobs/report.py [--conf-file FILE] [lake_uri=<lake>] [dataset=<name>] [key=value ...]

Writes one static HTML page with PNG plots about a lake (default <lake>/report/index.html): files in and reject
reasons, clip lengths, split sizes per dataset version, training curves, the confusion matrix of the model in
use, the compression trade-off, the promotion history, drift over time, and the lineage walk from the deployed
variant back to its checkpoint, dataset version, clips and source videos. Reads the Delta tables without Spark.
"""

from __future__ import annotations

import logging
import sys

from jobs.cli import parse, parser_for, run_main

logger = logging.getLogger("jobs.report")


def main(argv: list[str] | None = None) -> int:
    from sora_model.report.build import ReportConfig, write_report

    parser = parser_for(ReportConfig, __doc__.strip().split("\n\n")[1].replace("\n", " "), "jobs/report.py")
    args, cfg = parse(parser, ReportConfig, argv)
    if cfg is None:
        return 0
    from sora_model.lake import storage
    from sora_model.lake.layout import LakeLayout

    if not storage.exists(LakeLayout.of(cfg.lake_uri).uri("tables")):
        logger.error("no lake at %s (no tables/ folder): run the curate job or the cycle first", cfg.lake_uri)
        return 2
    print(f"report: {write_report(cfg)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
