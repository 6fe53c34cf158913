"""spark-submit jobs/cycle.py --conf-file conf/cycle/local.yaml [key=value ...]

One update cycle of a lake: curate what arrived under input_uri; when the dataset gained a version with at least
min_new_clips, train a candidate (warm-started from the model in use), compare it with the model in use on the
same test clips of the new and the previous version, and promote it (build its variants, point the production
alias at the deployed one) only if the promotion rule says so; then score the new videos with the model in use.
The decision is a row of the lake's decisions table; a version already decided is not decided again ("nothing
new": nothing is written). Exit status 0 when the cycle ran, 2 on a user error (the message says what to fix).
"""

from __future__ import annotations

import sys

from jobs.cli import parse, parser_for, run_main, run_spark_job


def main(argv: list[str] | None = None) -> int:
    from pipelines.cycle import CycleConfig, run_cycle

    parser = parser_for(CycleConfig, __doc__.strip().split("\n\n")[1].replace("\n", " "), "jobs/cycle.py")
    args, cfg = parse(parser, CycleConfig, argv)
    if cfg is None:
        return 0
    return run_spark_job(cfg.curate.spark, lambda spark: run_cycle(spark, cfg), cfg.input_uri, cfg.lake_uri)


if __name__ == "__main__":
    sys.exit(run_main(main))
