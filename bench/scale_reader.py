"""Scale benchmark: planning an epoch as a dataset grows, 10^5, 10^6 and 10^7 rows, per rank of two.

    python bench/scale_reader.py [--max-rows 10000000] [--workers 2]

A dataset version of ``ROWS_PER_SHARD``-row shards (one row group each, as the curate job writes 256 MB shards of
16x112x112 clips) is written once for the largest size, with tiny frames: planning reads footers and row counts,
never frames. For each size, a fresh process does what one rank of two does before its first batch: read every
shard's footer (``scan_row_groups``), plan the epoch (``EpochPlan``) and order each of its DataLoader workers' rows
(``EpochPlan.rows``, the shuffle buffer). It reports the seconds and the memory it holds, per row. Ratios: time
and memory per row at the largest size over the smallest (goal: flat, at most 1.5).

Then the reader's clips/s in DDP: two ranks (processes in a gloo group, the world a training job has), each with
one DataLoader worker reading its share of shards of 16x112x112 and of 16x224x224 clips (about 1.2 GB each), and
an all-reduce per batch as DDP's gradient sync holds the ranks in step. The baseline is the same: each rank serves
the same batches from RAM through the same DataLoader. Ratio: reader / baseline clips/s (goal at least 0.9).
"""

from __future__ import annotations

import argparse
import json
import math
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


THROUGHPUT_SHAPES = ((16, 112, 112, 3), (16, 224, 224, 3))
THROUGHPUT_BYTES = 1_200_000_000
"""Shards of about this many bytes of clips per shape: larger than a DataLoader's prefetch by far, small enough
for the baseline to hold in RAM."""


def _rank_throughput(rank: int, world: int, port: int, uris: list[str], rounds: int, out: dict) -> None:
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.utils.data import DataLoader

    from bench.loader import InMemory
    from sora_model.dataset.loader import ShardDataset
    from sora_model.dataset.reader import ReaderConfig

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    cfg = ReaderConfig(batch_size=32, shuffle_buffer=256)
    reader = ShardDataset(uris, cfg, rank=rank, world_size=world)
    batches = [dict(b) for b in DataLoader(reader, batch_size=None)]  # this rank's share, in RAM
    loaders = {"baseline": InMemory(batches), "reader": reader}
    loaders = {k: DataLoader(d, batch_size=None, num_workers=1, persistent_workers=True, prefetch_factor=4)
               for k, d in loaders.items()}
    sync = torch.zeros(1)

    def epoch(loader: DataLoader) -> tuple[float, float]:
        dist.barrier()
        clips, start = 0, time.perf_counter()
        for batch in loader:
            clips += batch["frames"].shape[0]
            dist.all_reduce(sync)  # DDP's gradient sync: the ranks move in step
        total = torch.tensor([float(clips)])
        dist.all_reduce(total)
        return total.item(), time.perf_counter() - start

    for loader in loaders.values():
        epoch(loader)  # starts the worker
    rates: dict[str, list[float]] = {k: [] for k in loaders}
    for _ in range(rounds):  # alternated, median: single timings swing on a shared VM
        for key, loader in loaders.items():
            clips, secs = epoch(loader)
            slowest = torch.tensor([secs])
            dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
            rates[key].append(clips / slowest.item())
    if rank == 0:
        out.update({k: float(np.median(v)) for k, v in rates.items()})
    dist.destroy_process_group()


def ddp_throughput(tmp: Path, shape: tuple[int, ...], world: int = 2, rounds: int = 3) -> dict:
    """Clips/s of ``world`` ranks, reader and in-memory baseline, over shards of ``shape`` clips."""
    import torch.multiprocessing as mp

    from bench.loader import _free_port
    from bench.loader import write_shards as write_clip_shards

    clip_bytes = math.prod(shape)
    rows = THROUGHPUT_BYTES // clip_bytes
    uris = write_clip_shards(str(tmp / "x".join(map(str, shape[:3]))), rows, list(shape))
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_rank_throughput, args=(world, _free_port(), uris, rounds, out), nprocs=world, join=True)
        return {"rows": rows, "clip_mb": clip_bytes / 2**20, **out}


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
        throughput = {}
        for shape in THROUGHPUT_SHAPES:
            t = throughput["x".join(map(str, shape[:3]))] = ddp_throughput(tmp, shape)
            print(f"DDP 2 ranks, 1 reader worker each, {t['rows']} clips of {'x'.join(map(str, shape[:3]))} "
                  f"({t['clip_mb']:.1f} MiB): reader {t['reader']:.0f} clips/s "
                  f"({t['reader'] * t['clip_mb'] / 1024:.2f} GiB/s), in-memory baseline {t['baseline']:.0f} clips/s",
                  flush=True)
    print(json.dumps({"plans": results, "throughput": throughput}))
    for name, t in throughput.items():
        record(Ratio("scale_reader", f"reader / in-memory baseline, DDP 2 ranks, {name} clips", t["reader"],
                     t["baseline"], "clips/s", goal_min=0.9))
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
