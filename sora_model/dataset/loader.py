"""torch side of the reader: an IterableDataset over curated shards for DDP ranks and DataLoader workers."""

from __future__ import annotations

import ctypes
import logging
from typing import Any

import pyarrow as pa
import torch
from torch.utils.data import IterableDataset, get_worker_info

from sora_model.dataset.reader import EpochPlan, ReaderConfig, iter_batches, scan_row_groups

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
