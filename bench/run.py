"""make bench: run every benchmark, then print all their ratios in one table and save it as JSON.

    python bench/run.py [--scale] [--only decode,loader,...] [--out bench/results]

``--scale`` (``make bench-scale``) runs the scale benchmarks instead: the same measures as corpora, lakes and
listings grow (an hour or so here, where ``make bench`` takes minutes).

Each script runs in its own process (as ``python bench/<name>.py`` would) and records its ratios through
``bench/results.py``; the table lists figure, baseline, ratio and goal per ratio. The JSON file
(``<out>/<UTC time>.json``) also names the commit and the machine, so a later run can be compared with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import RESULTS_ENV, load, table  # noqa: E402

BENCHES = ("bookkeeping", "decode", "loader", "object_store", "cluster_jars", "cluster_cycle", "shots", "near_dups",
           "quality", "compress", "stream_score", "serve")
"""In the order they run."""

SCALE_BENCHES = ("scale_curate", "scale_listing", "scale_tables", "scale_reader")
"""``--scale``: the benchmarks of growth, in the order they run."""


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--scale", action="store_true",
                        help=f"run the scale benchmarks ({', '.join(SCALE_BENCHES)}) instead of the others")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES + SCALE_BENCHES)}")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="folder of the JSON results")
    args = parser.parse_args()
    known = SCALE_BENCHES if args.scale else BENCHES
    chosen = args.only.split(",") if args.only else list(known)
    unknown = sorted(set(chosen) - set(BENCHES + SCALE_BENCHES))
    if unknown:
        parser.error(f"unknown benches {unknown}; known: {', '.join(BENCHES + SCALE_BENCHES)}")
    failed = []
    # spark-submit (the decode bench) must start this interpreter's Spark and workers, as under make.
    env = {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable, **os.environ}
    with tempfile.TemporaryDirectory(prefix="sora-bench-run-") as tmp:
        results = os.path.join(tmp, "ratios.jsonl")
        for name in chosen:
            print(f"=== bench/{name}.py", flush=True)
            rc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py")], cwd=ROOT,
                                env={**env, RESULTS_ENV: results}).returncode
            if rc:
                failed.append(name)
        ratios = load(results)
    print()
    print(table(ratios))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{stamp}.json")
    with open(path, "w") as f:
        json.dump({"at": stamp, "commit": _commit(), "scale": args.scale, "machine": {"cores": os.cpu_count(), "python":
                   platform.python_version(), "platform": platform.platform()}, "failed": failed,
                   "ratios": [{**asdict(r), "ratio": r.ratio, "met": r.met} for r in ratios]}, f, indent=1)
    print(f"\nsaved {path}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
