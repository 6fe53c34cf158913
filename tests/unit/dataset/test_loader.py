from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from sora_model.dataset.loader import ShardDataset, round_robin_counts
from sora_model.dataset.reader import ReaderConfig
from tests.unit.dataset.test_reader import _write_shards


def _run(ds: ShardDataset, workers: int, stop_after: int | None = None) -> list[list[int]]:
    out = []
    for batch in DataLoader(ds, batch_size=None, num_workers=workers):
        assert batch["frames"].dtype == torch.uint8
        out.append(batch["label"].tolist())
        ds.step_done()
        if stop_after is not None and len(out) == stop_after:
            break
    return out


def test_round_robin_counts_follow_the_dataloader():
    assert round_robin_counts(5, [3, 3]) == ([3, 2], 1)
    assert round_robin_counts(5, [1, 4]) == ([1, 4], 0)


def test_two_workers_yield_len_batches_of_the_rank(tmp_path: Path):
    uris = _write_shards(tmp_path, [30, 11, 50])
    ds = ShardDataset(uris, ReaderConfig(batch_size=4), rank=1, world_size=2)
    batches = _run(ds, workers=2)
    assert len(batches) == len(ds) == 91 // 8


@pytest.mark.parametrize("workers, stop", [(0, 5), (2, 7), (3, 8), (3, 30)])
def test_resume_mid_epoch_continues_without_repeating_or_skipping(tmp_path: Path, workers: int, stop: int):
    uris = _write_shards(tmp_path, [23, 40, 9, 31])
    cfg = ReaderConfig(batch_size=3, shuffle_buffer=10, seed=1)
    full = _run(ShardDataset(uris, cfg), workers=workers)
    first = ShardDataset(uris, cfg)
    head = _run(first, workers=workers, stop_after=stop)
    state = first.state_dict()
    resumed = ShardDataset(uris, cfg)
    resumed.load_state_dict(state)
    tail = _run(resumed, workers=workers)
    assert head + tail == full
