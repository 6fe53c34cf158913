from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
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


_FAULTS_PER_ROUND = """
import resource, sys, time
import numpy as np, pyarrow as pa
from sora_model.dataset.loader import keep_freed_memory
def one_round():  # what a worker allocates per row group: read pieces, a batch, a large Arrow buffer
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    bufs = [pa.allocate_buffer(2 * 2**20) for _ in range(16)] + [pa.allocate_buffer(40 * 2**20)]
    for b in bufs:
        np.frombuffer(b, np.uint8)[::4096] = 1
    batch = np.empty(20 * 2**20, np.uint8)
    batch[::4096] = 1
    del bufs, batch
    time.sleep(0.05)  # a worker waiting on its queue: longer than mimalloc's 10 ms before it gives memory back
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before
if sys.argv[1] == "keep":
    keep_freed_memory()
print(min([one_round() for _ in range(6)][2:]))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory only acts on glibc")
def test_a_worker_reuses_freed_buffers_instead_of_faulting_in_fresh_pages():
    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _FAULTS_PER_ROUND, mode], check=True, capture_output=True,
                             text=True, cwd=Path(__file__).resolve().parents[3])
        return int(out.stdout.split()[-1])

    pages = 92 * 2**20 // 4096
    assert faults("default") > pages // 10  # Arrow's large buffers come back fresh each round
    assert faults("keep") < pages // 100


def test_the_main_process_keeps_its_allocator(tmp_path: Path):
    before = pa.default_memory_pool().backend_name
    _run(ShardDataset(_write_shards(tmp_path, [12]), ReaderConfig(batch_size=4)), workers=0)
    assert pa.default_memory_pool().backend_name == before
