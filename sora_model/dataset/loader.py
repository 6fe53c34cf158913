"""torch side of the reader: an IterableDataset over curated shards for DDP ranks and DataLoader workers, and
``open_split``, the public way in for training code of your own (``from sora_model.dataset import open_split``)."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from sora_model.dataset.catalog import DatasetVersion, load_dataset
from sora_model.dataset.reader import EpochPlan, ReaderConfig, iter_batches, iter_eval_batches, scan_row_groups
from sora_model.lake.object_store import ObjectStoreConfig

logger = logging.getLogger(__name__)

# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_worker_memory_kept = False


def keep_freed_memory() -> None:
    """In a DataLoader worker: keep freed memory for reuse instead of handing it back to the OS.

    A worker frees each row group's buffers after its last row and allocates the next ones tens of milliseconds
    later. Arrow's mimalloc (after 10 ms) and glibc (above its trim and mmap thresholds) give such memory back,
    and every page of the next buffers then faults in again. That was most of a worker's read time on a
    fault-heavy VM. So the worker's Arrow buffers come from glibc's malloc, told to keep what is freed: the
    worker then holds the memory of its busiest moment (the row groups its shuffle buffer spans, and its batches
    in flight). Only glibc has mallopt; elsewhere the allocators stay as they are.
    """
    global _worker_memory_kept
    if _worker_memory_kept:
        return
    _worker_memory_kept = True
    try:
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except (OSError, TypeError):  # no handle on the process's own symbols (Windows)
        mallopt = None
    if mallopt is None:
        return
    pa.set_memory_pool(pa.system_memory_pool())
    for param in (_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD):
        if not mallopt(param, 2**30):
            logger.debug("mallopt(%d) refused; freed memory may go back to the OS", param)


def round_robin_counts(done: int, sizes: list[int]) -> tuple[list[int], int]:
    """How many of ``done`` batches came from each worker, and which worker is polled next.

    DataLoader reads an IterableDataset's workers round-robin and skips a worker once it is exhausted.
    """
    taken = [0] * len(sizes)
    w = 0
    for _ in range(done):
        while taken[w] >= sizes[w]:
            w = (w + 1) % len(sizes)
        taken[w] += 1
        w = (w + 1) % len(sizes)
    return taken, w


class ShardDataset(IterableDataset):
    """Yields ready batches (use ``DataLoader(dataset, batch_size=None)``), the same count on every rank.

    ``state_dict()``/``load_state_dict()`` capture (epoch, batches done) so a resumed run continues mid-epoch
    without repeating or skipping rows; the training loop reports progress with ``step_done()``.
    """

    def __init__(self, shard_uris: list[str], cfg: ReaderConfig, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of {world_size}")
        self.groups, self.description = scan_row_groups(shard_uris)
        self.cfg, self.rank, self.world_size = cfg, rank, world_size
        self.epoch = 0
        self.batches_done = 0
        self._resume_from = 0

    def __len__(self) -> int:
        return EpochPlan(self.groups, self.cfg, self.epoch, self.world_size).batches_per_rank

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.batches_done, self._resume_from = epoch, 0, 0

    def step_done(self) -> None:
        self.batches_done += 1

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batches_done": self.batches_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.batches_done = self._resume_from = int(state["batches_done"])

    def __iter__(self):  # noqa: ANN204 - iterator of dict batches
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        if info:  # a worker process is the reader's own; the main process's allocators are the trainer's
            keep_freed_memory()
        plan = EpochPlan(self.groups, self.cfg, self.epoch, self.world_size)
        sizes = [len(plan.worker_batches(self.rank, w, num_workers)) for w in range(num_workers)]
        taken, next_worker = round_robin_counts(self._resume_from, sizes)
        # The DataLoader polls worker 0 first: on resume it must serve the part that was due next.
        part = (next_worker + worker) % num_workers
        for batch in iter_batches(self.groups, self.description, self.cfg, self.epoch, self.rank,
                                  self.world_size, part, num_workers, skip_batches=taken[part]):
            yield {k: torch.from_numpy(v) for k, v in batch.items()}


class SplitDataset(ShardDataset):
    """One split of one dataset version, as ``open_split`` opens it: the reader's batches and guarantees, and what
    a training script needs to know of the data (``classes``, ``frames_shape``, ``version``)."""

    def __init__(self, info: DatasetVersion, split: str, cfg: ReaderConfig, rank: int = 0,
                 world_size: int = 1) -> None:
        super().__init__(info.shards[split], cfg, rank, world_size)
        self.info, self.split = info, split

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def classes(self) -> list[str]:
        """Class names; a batch's ``label`` indexes them (-1: a clip without a label)."""
        return list(self.info.classes)

    @property
    def frames_shape(self) -> list[int]:
        """[T, H, W, 3] of every clip; a batch's ``frames`` is uint8 [batch, T, H, W, 3]."""
        return list(self.info.frames_shape)

    @property
    def rows(self) -> int:
        """Clips in the split (all ranks together); an epoch serves the whole batches of them."""
        return int(self.info.rows_per_split.get(self.split, 0))

    def loader(self, num_workers: int = 1, pin_memory: bool = False) -> SplitLoader:
        """This epoch's batches, read by ``num_workers`` DataLoader processes (0: in this one). Every batch it hands
        out counts as done, so ``state_dict()`` taken after training on it resumes with the next one; do not
        also call ``step_done()``."""
        return SplitLoader(self, num_workers, pin_memory)

    def every_row(self, batch_size: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """Every row of the split once, in order, in this process (evaluation: an epoch's batches leave out the
        rows past its last whole batch, and split the rest across ranks)."""
        for batch in iter_eval_batches(self.groups, self.description, batch_size or self.cfg.batch_size,
                                       self.cfg.shard_cache()):
            yield {k: torch.from_numpy(v) for k, v in batch.items()}


class SplitLoader:
    """``SplitDataset.loader``: a DataLoader over ready batches that counts what it hands out."""

    def __init__(self, dataset: SplitDataset, num_workers: int, pin_memory: bool) -> None:
        self.dataset, self.num_workers, self.pin_memory = dataset, num_workers, pin_memory

    def __len__(self) -> int:
        """Batches left in this epoch."""
        return len(self.dataset) - self.dataset.batches_done

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        loader = DataLoader(self.dataset, batch_size=None, num_workers=self.num_workers,
                            pin_memory=self.pin_memory)
        for batch in loader:
            self.dataset.step_done()  # before the caller trains on it: a checkpoint after that step skips it
            yield batch


def _rank_and_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    import torch.distributed as dist

    started = dist.is_available() and dist.is_initialized()
    if rank is None:
        rank = dist.get_rank() if started else 0
    if world_size is None:
        world_size = dist.get_world_size() if started else 1
    return rank, world_size


def open_split(lake_uri: str, dataset: str, split: str = "train", *, version: int | None = None,
               rank: int | None = None, world_size: int | None = None,
               object_store: ObjectStoreConfig | None = None, **reader: Any) -> SplitDataset:  # noqa: ANN401
    """Open ``split`` of a curated dataset version as a PyTorch ``IterableDataset`` of ready batches.

    ``lake_uri``: a lake folder or object-store URI (``s3://bucket/lake``); ``version``: None takes the newest.
    ``rank``/``world_size`` default to torch.distributed's when a process group is started, else 0 and 1.
    ``object_store``: the store's endpoint and retries (default: from ``AWS_*`` in the environment).
    ``reader``: ReaderConfig's options, ``batch_size`` (16), ``shuffle`` (True for train, else False), ``seed``,
    ``shuffle_buffer``, ``cache_dir``, ``cache_max_gb`` (see docs/training.md).

    The guarantees are the training job's: every rank gets the same number of whole batches; an epoch's order is
    a function of (seed, epoch) only; ``state_dict()`` / ``load_state_dict()`` resume mid-epoch without repeating
    or skipping a row; shards in an object store are read through a bounded local cache. Call ``set_epoch(e)``
    before each epoch and iterate ``loader(num_workers)``. A batch is ``{"frames": uint8 [B, T, H, W, 3],
    "label": int64 [B], "aug_index": int [B]}``.
    """
    import dataclasses

    from sora_model.lake.object_store import apply

    if object_store is not None:
        apply(object_store)
    info = load_dataset(lake_uri, dataset, version)
    if not info.shards.get(split):
        raise ValueError(f"dataset {dataset!r} v{info.version} has no {split!r} rows; its splits: "
                         f"{', '.join(sorted(info.shards)) or 'none'}")
    known = {f.name for f in dataclasses.fields(ReaderConfig)}
    unknown = sorted(set(reader) - known)
    if unknown:
        raise ValueError(f"unknown reader option(s) {unknown}; known: {sorted(known)}")
    cfg = ReaderConfig(**{"shuffle": split == "train", **reader})
    return SplitDataset(info, split, cfg, *_rank_and_world(rank, world_size))
