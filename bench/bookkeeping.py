"""Curate bookkeeping benchmark: how much of a curate run goes to the lake's Delta tables, first and incremental.

    python bench/bookkeeping.py [--videos 192] [--seed 7] [--add 5]

On the demo corpus (make demo's: 192 videos + 20 bad files, seed 7) one Spark session (conf/local.yaml's
settings, local[<cores>]) curates everything into a fresh lake, then curates again after ``--add`` new videos
landed. Bookkeeping is the ``tables`` (MERGE rejects, videos, clips) and ``register`` (the dataset version)
stages. Three ratios, each within this run: bookkeeping over the first run's stage wall (goal <= 0.15); the
incremental run's bookkeeping over the first run's (goal <= 0.25: cost grows with new rows, not with the lake);
the incremental run's ingest (listing + the anti-join with the lake) over a bare Hadoop listing of the same tree
in the same JVM (goal <= 2). Each stage's Spark jobs, stages and tasks are printed beside its time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402
from sora_model import config as config_lib  # noqa: E402
from sora_model.video.synth import write_corpus  # noqa: E402

BOOKKEEPING = ("tables", "register")


def bare_listing_s(spark, uri: str) -> tuple[int, float]:  # noqa: ANN001
    """Files under ``uri`` and the seconds Hadoop's recursive listFiles takes (best of 3, same JVM)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    best, n = float("inf"), 0
    for _ in range(3):
        start, it, n = time.perf_counter(), fs.listFiles(path, True), 0
        while it.hasNext():
            it.next()
            n += 1
        best = min(best, time.perf_counter() - start)
    return n, best


def _line(label: str, summary) -> str:  # noqa: ANN001
    work = summary.stage_work
    return f"{label}: " + ", ".join(
        f"{k} {v:.1f}s" + (f" ({work[k]['jobs']} jobs/{work[k]['tasks']} tasks)" if k in work else "")
        for k, v in summary.stage_s.items())


def main() -> int:
    from pipelines.curate import CurateConfig, run_curate
    from pipelines.session import build_session
    from tests.integration.conftest import add_videos

    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--videos", type=int, default=192, help="good videos in the corpus (default 192, make demo's)")
    parser.add_argument("--seed", type=int, default=7, help="corpus seed (default 7, make demo's)")
    parser.add_argument("--add", type=int, default=5, help="videos added before the incremental run (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sora-bench-bk-") as tmp:
        corpus, lake = Path(tmp) / "corpus", Path(tmp) / "lake"
        write_corpus(corpus, videos=args.videos, seed=args.seed, workers=os.cpu_count() or 1)
        cfg = config_lib.load(CurateConfig, ROOT / "conf" / "local.yaml",
                              [f"lake_uri={lake}", f"input_uri={corpus}"])
        spark = build_session(cfg.spark)
        try:
            first = run_curate(spark, cfg)
            print(_line("first run", first))
            add_videos(corpus, "added", videos=args.add, seed=args.seed + 1000, scratch=Path(tmp) / "scratch")
            again = run_curate(spark, cfg)
            print(_line(f"+{args.add} videos", again))
            files, listing_s = bare_listing_s(spark, str(corpus))
        finally:
            spark.stop()
    book1 = sum(first.stage_s.get(k, 0.0) for k in BOOKKEEPING)
    book2 = sum(again.stage_s.get(k, 0.0) for k in BOOKKEEPING)
    wall1 = sum(first.stage_s.values())
    ingest2 = again.stage_s["ingest"]
    print(f"bookkeeping, first run: {book1:.1f}s of {wall1:.1f}s ({book1 / wall1:.2f})")
    print(f"bookkeeping, +{args.add} videos: {book2:.1f}s ({book2 / book1:.2f} of the first run's)")
    print(f"ingest, +{args.add} videos: {ingest2:.2f}s; bare Hadoop listing of the {files} files: {listing_s:.3f}s "
          f"({ingest2 / listing_s:.1f}x)")
    record(Ratio("bookkeeping", f"tables+register / curate stages, {args.videos}-video demo corpus", book1, wall1,
                 "s", goal_max=0.15))
    record(Ratio("bookkeeping", f"tables+register, +{args.add} videos / first run", book2, book1, "s",
                 goal_max=0.25))
    record(Ratio("bookkeeping", f"ingest, +{args.add} videos / bare Hadoop listing", ingest2, listing_s, "s",
                 goal_max=2.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
