"""spark-submit jobs/score.py --input <uri> [--model production|<run_id/epoch/variant>|<dir>] [key=value ...]

Scores new videos with a registered model variant (default: the one the production alias serves): lists the
input, probes, cleans, clips and decodes each video as curation does, runs the model (loaded once per executor
process) and MERGEs one prediction per clip into the lake's predictions Delta table; bad files go to the rejects
table. Rerunning adds nothing.
"""

from __future__ import annotations

import sys

from jobs.cli import parse_scoring, run_main, run_spark_job


def main(argv: list[str] | None = None) -> int:
    from pipelines.score import ScoreConfig, run_score

    _, cfg = parse_scoring(ScoreConfig, __doc__, "jobs/score.py",
                           "an alias (default production), a models-table id <run_id>/<epoch>/<variant> or a "
                           "variant directory", "the folder or prefix of videos to score", argv)
    if cfg is None:
        return 0
    return run_spark_job(cfg.spark, lambda spark: run_score(spark, cfg), cfg.input_uri, cfg.lake_uri)


if __name__ == "__main__":
    sys.exit(run_main(main))
