"""spark-submit jobs/monitor.py [--conf-file conf/monitor/local.yaml] [score_run_id=<id>] [key=value ...]

Monitors scoring runs: for each scoring run not yet monitored (or the one given), compares its predicted-class mix,
confidence and inputs (brightness, motion energy, resolution, codec) with the train split of the model that made
the predictions (PSI), reports latency per clip and, where the scored videos have labels, accuracy and macro F1.
Writes a row per scoring run into the monitoring table and prints a short report. Exit status 3 when a
threshold is crossed (a scheduler can page someone), 0 otherwise, 2 on a user error.
"""

from __future__ import annotations

import sys

from jobs.cli import parse, parser_for, run_main, run_spark_job


def main(argv: list[str] | None = None) -> int:
    from pipelines.monitor import MonitorJobConfig, run_monitor

    parser = parser_for(MonitorJobConfig, __doc__.strip().split("\n\n")[1].replace("\n", " "), "jobs/monitor.py")
    args, cfg = parse(parser, MonitorJobConfig, argv)
    if cfg is None:
        return 0
    return run_spark_job(cfg.spark, lambda spark: run_monitor(spark, cfg), lake_uri=cfg.lake_uri)


if __name__ == "__main__":
    sys.exit(run_main(main))
