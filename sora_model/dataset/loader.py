"""torch side of the reader: an IterableDataset over curated shards for DDP ranks and DataLoader workers."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from sora_model.dataset.reader import EpochPlan, ReaderConfig, iter_batches, scan_row_groups


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
        plan = EpochPlan(self.groups, self.cfg, self.epoch, self.world_size)
        sizes = [len(plan.worker_batches(self.rank, w, num_workers)) for w in range(num_workers)]
        taken, next_worker = round_robin_counts(self._resume_from, sizes)
        # The DataLoader polls worker 0 first: on resume it must serve the part that was due next.
        part = (next_worker + worker) % num_workers
        for batch in iter_batches(self.groups, self.description, self.cfg, self.epoch, self.rank,
                                  self.world_size, part, num_workers, skip_batches=taken[part]):
            yield {k: torch.from_numpy(v) for k, v in batch.items()}
