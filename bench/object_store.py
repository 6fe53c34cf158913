"""Reader benchmark, object store: clips/s through the shard reader from a real S3-API server (moto_server on
127.0.0.1) against the same shards on local disk, in the same run.

    python bench/object_store.py [--rows 1000] [--frames 16] [--side 112] [--batch-size 32]

Three passes of one epoch each through the same DataLoader settings (1 worker): local shards (memory-mapped),
shards in the bucket with an empty shard cache (each shard is copied once, then memory-mapped), and the same
again with the cache warm (a second epoch). The ratios are printed last. moto is a Python server, much slower
than S3 or MinIO, so the cold ratio is a floor; the warm one is what every epoch after the first gets.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loader import write_shards  # noqa: E402
from bench.results import Ratio, record  # noqa: E402
from sora_model.dataset.reader import ReaderConfig  # noqa: E402
from sora_model.lake import object_store, storage  # noqa: E402
from tests import s3_server  # noqa: E402


def epoch_rate(uris: list[str], cfg: ReaderConfig) -> float:
    """Clips/s of one epoch; the footer scan (once per run, remote for the bucket) is not timed."""
    from torch.utils.data import DataLoader

    from sora_model.dataset.loader import ShardDataset

    dataset = ShardDataset(uris, cfg)
    clips, start = 0, time.perf_counter()
    for batch in DataLoader(dataset, batch_size=None, num_workers=1):
        clips += batch["frames"].shape[0]
    return clips / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="clips in the shards (default 1000)")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per batch (default 32)")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    parser.add_argument("--side", type=int, default=112, help="frame side in pixels (default 112)")
    args = parser.parse_args()
    shape = [args.frames, args.side, args.side, 3]
    clip_bytes = int(np.prod(shape))
    with tempfile.TemporaryDirectory(prefix="sora-bench-s3-") as tmp:
        proc, endpoint = s3_server.start(Path(tmp))
        try:
            os.environ.update(s3_server.environment(endpoint))
            object_store.apply(object_store.ObjectStoreConfig(endpoint_url=endpoint))
            s3_server.make_bucket(endpoint, "bench")
            local = write_shards(str(Path(tmp) / "local"), args.rows, shape)
            remote = []
            for uri in local:
                remote.append(f"s3a://bench/shards/{Path(uri).name}")
                storage.upload(uri, remote[-1])
            cfg = ReaderConfig(batch_size=args.batch_size, cache_dir=str(Path(tmp) / "cache"))
            epoch_rate(local, cfg)  # page cache warm for the local side
            rates = {"local disk": epoch_rate(local, cfg), "object store, cold cache": epoch_rate(remote, cfg),
                     "object store, warm cache": epoch_rate(remote, cfg)}
        finally:
            s3_server.stop(proc)
    print(f"{args.rows} clips of {shape} uint8 ({clip_bytes / 2**20:.2f} MiB each) in {len(local)} shards, "
          f"batch {args.batch_size}, 1 DataLoader worker")
    for name, rate in rates.items():
        print(f"{name:<26} {rate:9.0f} clips/s  {rate * clip_bytes / 1e9:6.2f} GB/s")
    base = rates["local disk"]
    print(f"ratio (object store, cold cache / local disk): {rates['object store, cold cache'] / base:.2f}")
    print(f"ratio (object store, warm cache / local disk): {rates['object store, warm cache'] / base:.2f}")
    for cache in ("cold", "warm"):
        record(Ratio("object_store", f"reader from the object store, {cache} cache / local disk",
                     rates[f"object store, {cache} cache"], base, "clips/s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
