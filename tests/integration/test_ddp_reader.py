"""The reader under real torch.distributed: 2 gloo processes over deliberately uneven shards, no hang."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader

from sora_model.dataset.loader import ShardDataset
from sora_model.dataset.reader import ReaderConfig
from tests.unit.dataset.test_reader import _write_shards


def _rank(rank: int, world: int, port: int, uris: list[str], out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    # A rank that runs out of batches early would leave the other blocked in all_reduce: the timeout turns that
    # hang into a failure.
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    data = ShardDataset(uris, ReaderConfig(batch_size=4, shuffle_buffer=16), rank=rank, world_size=world)
    seen = []
    for epoch in range(2):
        data.set_epoch(epoch)
        batches = 0
        for batch in DataLoader(data, batch_size=None, num_workers=1):
            dist.all_reduce(torch.ones(1))  # the collective every DDP step does
            seen.extend((epoch, int(label)) for label in batch["label"])
            batches += 1
        out[(rank, epoch)] = batches
    out[rank] = seen
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_ranks_get_equal_batches_from_uneven_shards(tmp_path: Path):
    uris = _write_shards(tmp_path, [5, 61, 17, 2, 40, 1, 33])  # 159 rows in shards of 1 to 61 rows
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_rank, args=(2, _free_port(), uris, out), nprocs=2, join=True)
        result = dict(out)
    for epoch in range(2):
        assert result[(0, epoch)] == result[(1, epoch)] == 159 // (2 * 4)
    for epoch in range(2):
        rows = [label for rank in (0, 1) for e, label in result[rank] if e == epoch]
        assert len(rows) == len(set(rows)) == 19 * 2 * 4  # no row twice; the remainder (7 rows) waits
