"""Reader benchmark: clips/s through the shard reader (DataLoader, 1 and 2 workers) over an in-memory baseline,
and DDP training samples/s of the demo model with 1 and 2 processes.

    python bench/loader.py [--rows 2000] [--batch-size 32] [--frames 16] [--side 112] [--train-steps 60]

Writes synthetic shards (random uint8 clips, the real shard format), then times, in the same run and through
the same DataLoader settings (batch_size=None, N worker processes):
- baseline: the same batches served from RAM, each copied once into a fresh tensor that the DataLoader then
  moves into shared memory, as it does the reader's;
- the reader (Parquet row groups -> batch), shuffle on.
for N = 1 and 2 workers, and from that the bandwidth a 16-core GPU host would get with 15 workers if they scale
as 1 -> 2 did here. Then shards of demo-like pictures written uncompressed and with zstd: size and reader
clips/s. Then DDP training (gloo on CPU, nccl on GPUs; the demo's model and 8x32x32 clips read from shards by the
reader, AdamW, one reader worker per process) with 1 process using every core and with 2 processes sharing them.
Prints clips/s and GB/s, samples/s, and last the ratios: reader / baseline, and 2-process / 1-process training
throughput (the DDP scaling on this machine).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402
from sora_model.dataset.reader import ReaderConfig  # noqa: E402
from sora_model.dataset.schema import describe, schema_with_metadata  # noqa: E402
from sora_model.dataset.shards import ShardConfig, ShardWriter  # noqa: E402


def demo_clips(count: int, shape: list[int]) -> list[tuple[np.ndarray, int]]:
    """Clips rendered like the demo corpus (moving or turning textured objects) at the clip's size, so the
    training part sees pictures like the demo's rather than noise."""
    from sora_model.video.synth import CLASSES, _Shot

    rng = np.random.default_rng(0)
    t, h, w, _ = shape
    out = []
    for i in range(count):
        shot = _Shot(rng, CLASSES[i % len(CLASSES)], h, w)
        out.append((np.stack([shot.render(k * 0.25) for k in range(t)]), i % len(CLASSES)))
    return out


def write_shards(out: str, rows: int, shape: list[int], row_group_size_mb: float = 32,
                 clips: list[tuple[np.ndarray, int]] | None = None, compression: str = "none") -> list[str]:
    """Shards of ``rows`` clips: random bytes (what the reader moves does not matter to it) or ``clips`` cycled."""
    rng = np.random.default_rng(0)
    writer = ShardWriter(out, "bench", schema_with_metadata(describe(shape, ["a", "b"], "bench", 1)),
                         ShardConfig(shard_size_mb=256, row_group_size_mb=row_group_size_mb,
                                     compression=compression))
    noise = rng.integers(0, 256, size=shape, dtype=np.uint8)
    for i in range(rows):
        if clips:
            frames, label = clips[i % len(clips)]
        else:
            noise[0, 0, 0, 0] = i % 256
            frames, label = noise, i % 2
        writer.write({"clip_id": f"c{i}", "video_id": f"v{i // 4}", "label": label, "label_name": "",
                      "split": "train", "aug_index": 0, "frames": frames.tobytes(), "frames_shape": shape})
    return [f.uri for f in writer.close()]


class InMemory(IterableDataset):
    """Baseline: the same batches from RAM, split across workers like the reader."""

    def __init__(self, batches: list[dict]) -> None:
        self.batches = batches

    def __iter__(self):  # noqa: ANN204
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for batch in self.batches[worker::workers]:
            # A fresh copy that the DataLoader then moves into shared memory: the reader's hand-over exactly.
            yield {"frames": batch["frames"].clone(), "label": batch["label"].clone()}


def time_loader(loader, epochs: int = 2) -> tuple[int, float]:  # noqa: ANN001
    clips, start = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            clips += batch["frames"].shape[0]
    return clips, time.perf_counter() - start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _train_rank(rank: int, world: int, port: int, uris: list[str], batch_size: int, steps: int, threads: int,
                out: dict) -> None:
    import torch.distributed as dist
    from torch import nn

    from sora_model.dataset.loader import ShardDataset
    from sora_model.train.model import ModelConfig, SoraModel

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", rank) if cuda else torch.device("cpu")
    torch.set_num_threads(threads)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = SoraModel(ModelConfig(widths=(16, 32, 64), embed_dim=64, heads=4, spatial_grid=2)).to(device)
    ddp = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = ShardDataset(uris, ReaderConfig(batch_size=batch_size), rank=rank, world_size=world)
    done, warmup, epoch, start = 0, 5, 0, 0.0
    while done < steps + warmup:
        data.set_epoch(epoch)
        for batch in DataLoader(data, batch_size=None, num_workers=1, pin_memory=cuda):
            if done == warmup:
                if cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
            loss = nn.functional.cross_entropy(ddp(batch["frames"].to(device)), batch["label"].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps + warmup:
                break
        epoch += 1
    if cuda:
        torch.cuda.synchronize()
    if rank == 0:
        out["samples_per_s"] = steps * batch_size * world / (time.perf_counter() - start)
    if world > 1:
        dist.destroy_process_group()


def ddp_samples_per_s(uris: list[str], world: int, batch_size: int, steps: int) -> float:
    import torch.multiprocessing as mp

    cores = os.cpu_count() or 1
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_train_rank, args=(world, _free_port(), uris, batch_size, steps, max(1, cores // world), out),
                 nprocs=world, join=True)
        return float(out["samples_per_s"])


def main() -> int:
    from sora_model.dataset.loader import ShardDataset

    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="clips in the shards (default 2000)")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per batch (default 32)")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    parser.add_argument("--side", type=int, default=112, help="frame side in pixels (default 112)")
    parser.add_argument("--train-steps", type=int, default=60,
                        help="timed optimizer steps per DDP configuration (default 60, after 5 warm-up steps)")
    parser.add_argument("--train-batch-size", type=int, default=16,
                        help="clips per batch per process in the DDP part (default 16, the demo's)")
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
            loaders = {f"{name}, {workers} worker{'s' if workers > 1 else ''}":
                       DataLoader(ds, batch_size=None, num_workers=workers, persistent_workers=True, prefetch_factor=4)
                       for name, ds in (("in-memory baseline", InMemory(batches)), ("reader", ShardDataset(uris, cfg)))}
            for loader in loaders.values():
                time_loader(loader, epochs=1)  # starts the workers
            # Alternated, median of 3: one timing each swung by +-15 % on a shared VM.
            rates = {key: [] for key in loaders}
            for _ in range(3):
                for key, loader in loaders.items():
                    n, s = time_loader(loader)
                    rates[key].append(n / s)
            results.update({key: float(np.median(r)) for key, r in rates.items()})
            del loaders
        print(f"{args.rows} clips of {shape} uint8 ({clip_bytes / 2**20:.2f} MiB each), batch {args.batch_size}, "
              f"torch {torch.__version__}")
        for name, rate in results.items():
            print(f"{name:<30} {rate:9.0f} clips/s  {rate * clip_bytes / 1e9:6.2f} GB/s")
        # A GPU host's share: one reader worker per core; per-worker rate from here, scaled as 1 -> 2 workers did.
        one, two = results["reader, 1 worker"], results["reader, 2 workers"]
        per_worker = two / 2
        print(f"a 16-core GPU host, 15 reader workers (one core left to the trainer): about "
              f"{15 * per_worker * clip_bytes / 1e9:.1f} GB/s if workers scale as here (1 -> 2 workers: "
              f"{two / one:.2f}x)")
        # Compressed shards: pictures like the demo's (not noise), distinct clips, the same reader.
        rendered = demo_clips(128, shape)
        sized = {}
        for codec in ("none", "zstd"):
            codec_uris = write_shards(str(Path(tmp) / codec), 512, shape, clips=rendered, compression=codec)
            size = sum(Path(u).stat().st_size for u in codec_uris)
            loader = DataLoader(ShardDataset(codec_uris, cfg), batch_size=None, num_workers=2,
                                persistent_workers=True, prefetch_factor=4)
            time_loader(loader, epochs=1)  # page cache
            n, secs = time_loader(loader)
            sized[codec] = (size, n / secs)
            print(f"shards compression={codec:<5} {size / 2**20:8.1f} MiB for 512 clips, reader (2 workers) "
                  f"{n / secs:7.0f} clips/s")
        record(Ratio("loader", "zstd shards / uncompressed, size (demo-like pictures)", sized["zstd"][0],
                     sized["none"][0], "bytes"))
        record(Ratio("loader", "zstd shards / uncompressed, reader clips/s (2 workers)", sized["zstd"][1],
                     sized["none"][1], "clips/s"))
        # The demo's clips and row groups (conf/local.yaml: 8x32x32, 2 MB).
        demo_shape = [8, 32, 32, 3]
        train_uris = write_shards(str(Path(tmp) / "train"), 1024, demo_shape, row_group_size_mb=2,
                                  clips=demo_clips(256, demo_shape))
        # On GPUs each process needs its own; a 1-GPU machine measures the 1-process case only.
        worlds = [w for w in (1, 2) if not torch.cuda.is_available() or w <= torch.cuda.device_count()]
        procs = {world: ddp_samples_per_s(train_uris, world, args.train_batch_size, args.train_steps)
                 for world in worlds}
        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"{os.cpu_count()} CPU cores"
        for world, rate in procs.items():
            print(f"DDP training, {world} process{'es' if world > 1 else ''} on {device}: {rate:9.1f} samples/s")
        print(f"ratio (reader / in-memory baseline, 1 worker): "
              f"{results['reader, 1 worker'] / results['in-memory baseline, 1 worker']:.2f}")
        print(f"ratio (reader / in-memory baseline, 2 workers): "
              f"{results['reader, 2 workers'] / results['in-memory baseline, 2 workers']:.2f}")
        for workers in ("1 worker", "2 workers"):
            record(Ratio("loader", f"reader / in-memory baseline, {workers}", results[f"reader, {workers}"],
                         results[f"in-memory baseline, {workers}"], "clips/s", goal_min=0.9))
        if 2 in procs:
            print(f"ratio (DDP training samples/s, 2 processes / 1 process): {procs[2] / procs[1]:.2f}")
            record(Ratio("loader", f"DDP training, 2 processes / 1 process ({device})", procs[2], procs[1],
                         "samples/s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
