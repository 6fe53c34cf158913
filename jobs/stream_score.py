"""spark-submit jobs/stream_score.py --input <landing uri> [--model production|<run_id/epoch/variant>|<dir>] [key=value ...]

Scores videos as they land: watches a folder or object-store prefix with Spark Structured Streaming and scores
each new file as batch scoring does (probe, clean, clip, decode, the model the production alias points at when
the micro-batch starts), MERGEing one prediction per clip into the predictions table exactly once; bad files go
to the rejects table. Its checkpoint is in the lake: stopped or killed, it resumes where it stopped. SIGTERM or
Ctrl-C stops it after the micro-batch in flight (a killed one is run again on restart).
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from jobs.cli import parse_scoring, run_main, run_spark_job


def main(argv: list[str] | None = None) -> int:
    from pipelines.stream_score import StreamScoreConfig, run_stream

    _, cfg = parse_scoring(StreamScoreConfig, __doc__, "jobs/stream_score.py",
                           "an alias (default production, read again for every micro-batch), a models-table id "
                           "<run_id>/<epoch>/<variant> or a variant directory",
                           "the landing folder or prefix to watch", argv)
    if cfg is None:
        return 0
    from sora_model.lake import storage

    if storage.is_local(cfg.input_uri):  # a landing folder nothing has landed in yet is a fine start
        os.makedirs(storage.local_path(cfg.input_uri), exist_ok=True)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    return run_spark_job(cfg.spark, lambda spark: run_stream(spark, cfg, stop), cfg.input_uri, cfg.lake_uri)


if __name__ == "__main__":
    sys.exit(run_main(main))
