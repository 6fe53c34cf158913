"""Reader benchmark: clips/s through the shard reader (DataLoader, 1 and 2 workers) over an in-memory baseline.

    python bench/loader.py [--rows 2000] [--batch-size 32] [--frames 16] [--side 112]

Writes synthetic shards (random uint8 clips, the real shard format), then times, in the same run and through
the same DataLoader settings (batch_size=None, N worker processes):
- baseline: the same batches served from RAM (each batch copied once into a fresh tensor, as the reader does);
- the reader (Parquet row groups -> batch), shuffle on.
for N = 1 and 2 workers. Prints clips/s and GB/s and, last, the ratio reader / baseline with 2 workers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sora_model.data import ReaderConfig  # noqa: E402
from sora_model.schema import describe, schema_with_metadata  # noqa: E402
from sora_model.shards import ShardConfig, ShardWriter  # noqa: E402


def write_shards(out: str, rows: int, shape: list[int]) -> list[str]:
    rng = np.random.default_rng(0)
    writer = ShardWriter(out, "bench", schema_with_metadata(describe(shape, ["a", "b"], "bench", 1)),
                         ShardConfig(shard_size_mb=256, row_group_size_mb=32))
    clip = rng.integers(0, 256, size=shape, dtype=np.uint8)
    for i in range(rows):
        clip[0, 0, 0, 0] = i % 256
        writer.write({"clip_id": f"c{i}", "video_id": f"v{i // 4}", "label": i % 2, "label_name": "",
                      "split": "train", "aug_index": 0, "frames": clip.tobytes(), "frames_shape": shape})
    return [f.uri for f in writer.close()]


class InMemory(IterableDataset):
    """Baseline: the same batches from RAM, split across workers like the reader."""

    def __init__(self, batches: list[dict]) -> None:
        self.batches = batches

    def __iter__(self):  # noqa: ANN204
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for batch in self.batches[worker::workers]:
            out = torch.empty(batch["frames"].shape, dtype=torch.uint8).share_memory_()
            out.copy_(batch["frames"])
            yield {"frames": out, "label": batch["label"].clone()}


def time_loader(loader, epochs: int = 2) -> tuple[int, float]:  # noqa: ANN001
    clips, start = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            clips += batch["frames"].shape[0]
    return clips, time.perf_counter() - start


def main() -> int:
    from sora_model.loader import ShardDataset

    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="clips in the shards (default 2000)")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per batch (default 32)")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    parser.add_argument("--side", type=int, default=112, help="frame side in pixels (default 112)")
    args = parser.parse_args()
    shape = [args.frames, args.side, args.side, 3]
    clip_bytes = int(np.prod(shape))
    cfg = ReaderConfig(batch_size=args.batch_size, shuffle_buffer=256)
    with tempfile.TemporaryDirectory(prefix="sora-loader-") as tmp:
        uris = write_shards(tmp, args.rows, shape)
        dataset = ShardDataset(uris, cfg)
        batches = [dict(b) for b in DataLoader(dataset, batch_size=None)]  # warms the page cache too
        results = {}
        for workers in (1, 2):
            for name, ds in (("in-memory baseline", InMemory(batches)), ("reader", ShardDataset(uris, cfg))):
                loader = DataLoader(ds, batch_size=None, num_workers=workers, persistent_workers=True,
                                    prefetch_factor=4)
                n, s = time_loader(loader)
                results[f"{name}, {workers} worker{'s' if workers > 1 else ''}"] = n / s
        print(f"{args.rows} clips of {shape} uint8 ({clip_bytes / 2**20:.2f} MiB each), batch {args.batch_size}, "
              f"torch {torch.__version__}")
        for name, rate in results.items():
            print(f"{name:<22} {rate:9.0f} clips/s  {rate * clip_bytes / 1e9:6.2f} GB/s")
        print(f"ratio (reader / in-memory baseline, 1 worker): "
              f"{results['reader, 1 worker'] / results['in-memory baseline, 1 worker']:.2f}")
        print(f"ratio (reader / in-memory baseline, 2 workers): "
              f"{results['reader, 2 workers'] / results['in-memory baseline, 2 workers']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
