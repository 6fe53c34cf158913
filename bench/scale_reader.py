"""Scale benchmark: planning an epoch as a dataset grows, 10^5, 10^6 and 10^7 rows, per rank of two.

    python bench/scale_reader.py [--max-rows 10000000] [--workers 2]

A dataset version of ``ROWS_PER_SHARD``-row shards (one row group each, as the curate job writes 256 MB shards of
16x112x112 clips) is written once for the largest size, with tiny frames: planning reads footers and row counts,
never frames. For each size, a fresh process does what one rank of two does before its first batch: read every
shard's footer (``scan_row_groups``), plan the epoch (``EpochPlan``) and order each of its DataLoader workers' rows
(``EpochPlan.rows``, the shuffle buffer). It reports the seconds and the memory it holds, per row. Ratios: time
and memory per row at the largest size over the smallest (goal: flat, at most 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402

ROWS_PER_SHARD = 500
SIZES = (100_000, 1_000_000, 10_000_000)

_MEASURE = """
import json, sys, time
from sora_model.dataset.reader import EpochPlan, ReaderConfig, scan_row_groups

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

uris, workers = json.load(open(sys.argv[1])), int(sys.argv[2])
before = rss_mb()
start = time.perf_counter()
groups, _ = scan_row_groups(uris)
scanned = time.perf_counter()
plan = EpochPlan(groups, ReaderConfig(), epoch=0, world_size=2)
orders = [plan.rows(plan.worker_batches(0, w, workers), 0, w) for w in range(workers)]
done = time.perf_counter()
print(json.dumps({"rows": int(plan.offsets[-1]), "rank_rows": sum(len(o) for o in orders), "shards": len(uris),
                  "footers_s": scanned - start, "plan_s": done - scanned, "seconds": done - start,
                  "held_mb": rss_mb() - before}))
"""
"""One rank's start of an epoch, in a fresh interpreter per size."""


def write_shards(folder: Path, shards: int) -> list[str]:
    """``shards`` shards of ``ROWS_PER_SHARD`` rows of 1x2x2x3 frames, in the curate job's shard schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sora_model.dataset.schema import describe, schema_with_metadata

    shape = [1, 2, 2, 3]
    schema = schema_with_metadata(describe(shape, ["a", "b"], "bench", 1))
    n = ROWS_PER_SHARD
    rows = pa.Table.from_pydict({
        "clip_id": [f"c{i:036d}" for i in range(n)], "video_id": [f"v{i // 8:063d}" for i in range(n)],
        "label": [i % 2 for i in range(n)], "label_name": ["a"] * n, "split": ["train"] * n,
        "aug_index": [0] * n, "frames": [bytes(12)] * n, "frames_shape": [shape] * n}, schema=schema)
    uris = []
    for s in range(shards):
        path = folder / f"part-{s // 1000:03d}" / f"shard-{s:06d}.parquet"
        if s % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, path, row_group_size=n)
        uris.append(str(path))
    return uris


def measure(uris: list[str], workers: int, tmp: Path) -> dict:
    listing = tmp / f"uris-{len(uris)}.json"
    listing.write_text(json.dumps(uris))
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(listing), str(workers)], cwd=ROOT,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode:
        raise RuntimeError(f"planning over {len(uris)} shards failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--max-rows", type=int, default=SIZES[-1], help="largest dataset, in rows (default 10^7)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers per rank (default 2)")
    args = parser.parse_args()
    sizes = [n for n in SIZES if n <= args.max_rows]
    results = []
    with tempfile.TemporaryDirectory(prefix="sora-bench-reader-") as name:
        tmp = Path(name)
        start = time.perf_counter()
        uris = write_shards(tmp / "shards", sizes[-1] // ROWS_PER_SHARD)
        print(f"wrote {len(uris):,} shards in {time.perf_counter() - start:.0f} s", flush=True)
        for n in sizes:
            m = measure(uris[:n // ROWS_PER_SHARD], args.workers, tmp)
            results.append(m)
            per = 1e6 / m["rows"]
            print(f"{m['rows']:>11,} rows ({m['shards']:,} shards): footers {m['footers_s']:.2f} s, plan and "
                  f"order {m['plan_s']:.2f} s ({m['rank_rows']:,} rows for rank 0), {m['seconds'] * per:.2f} us/row; "
                  f"held {m['held_mb']:.0f} MB, {m['held_mb'] * 2**20 / m['rows']:.0f} B/row", flush=True)
    print(json.dumps(results))
    if len(results) >= 2:
        small, large = results[0], results[-1]
        at = f"at {large['rows']:,} rows / at {small['rows']:,}"
        record(Ratio("scale_reader", f"epoch start per rank, time per row {at}", large["seconds"] / large["rows"] * 1e6,
                     small["seconds"] / small["rows"] * 1e6, "us/row", goal_max=1.5))
        record(Ratio("scale_reader", f"epoch start per rank, memory per row {at}",
                     large["held_mb"] * 2**20 / large["rows"], max(small["held_mb"], 1) * 2**20 / small["rows"],
                     "B/row", goal_max=1.5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
