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
from tests.unit.dataset.test_reader import SHAPE, _write_shards


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


# --- open_split: the public way in -----------------------------------------------------------------------------
@pytest.fixture
def lake(tmp_path: Path) -> str:
    """A lake whose datasets table (written with delta-rs) lists 3 train shards (102 rows) and 1 val shard."""
    import json

    from deltalake import write_deltalake

    from sora_model.lake.layout import LakeLayout
    from sora_model.lake.tables import arrow_schema

    uris = _write_shards(tmp_path / "shards", [40, 31, 31, 13])
    row = {"name": "demo", "version": 1, "shard_uris": uris, "shard_splits": ["train"] * 3 + ["val"],
           "rows_per_split": {"train": 102, "val": 13}, "frames_shape": list(SHAPE), "classes": ["a", "b"],
           "schema_json": json.dumps({})}
    root = str(tmp_path / "lake")
    write_deltalake(LakeLayout.of(root).table("datasets"), pa.Table.from_pylist([row], schema=arrow_schema("datasets")))
    return root


def _labels_of(batches) -> list[list[int]]:  # noqa: ANN001
    return [b["label"].tolist() for b in batches]


def test_open_split_gives_the_dataset_facts_and_shuffles_only_train(lake: str):
    from sora_model.dataset import open_split

    train, val = open_split(lake, "demo", batch_size=4), open_split(lake, "demo", "val", batch_size=4)
    assert (train.name, train.version, train.classes, train.frames_shape) == ("demo", 1, ["a", "b"], list(SHAPE))
    assert (train.rows, val.rows, len(train), len(val)) == (102, 13, 25, 3)
    assert train.cfg.shuffle and not val.cfg.shuffle
    assert _labels_of(val.loader(num_workers=0)) == [[102, 103, 104, 105], [106, 107, 108, 109], [110, 111, 112, 113]]
    assert [x for b in val.every_row(batch_size=5) for x in b["label"].tolist()] == list(range(102, 115))
    epoch0 = _labels_of(train.loader(num_workers=0))
    train.set_epoch(1)
    epoch1 = _labels_of(train.loader(num_workers=0))
    assert epoch0 != epoch1  # a new order every epoch
    for epoch in (epoch0, epoch1):  # 25 whole batches of the 102 rows, each row at most once
        rows = sum(epoch, [])
        assert len(rows) == len(set(rows)) == 100 and set(rows) <= set(range(102))


def test_open_split_ranks_share_the_epoch_in_equal_disjoint_parts(lake: str):
    from sora_model.dataset import open_split

    parts = [_labels_of(open_split(lake, "demo", batch_size=4, rank=r, world_size=3).loader(num_workers=0))
             for r in range(3)]
    assert [len(p) for p in parts] == [8, 8, 8]  # 102 rows: 8 whole batches of 4 for each of 3 ranks
    rows = [x for p in parts for b in p for x in b]
    assert len(rows) == len(set(rows)) == 96


@pytest.mark.parametrize("workers", [0, 2])
def test_open_split_loader_counts_batches_so_a_checkpoint_resumes_after_the_last_one(lake: str, workers: int):
    from sora_model.dataset import open_split

    full = _labels_of(open_split(lake, "demo", batch_size=3, seed=7).loader(num_workers=workers))
    first = open_split(lake, "demo", batch_size=3, seed=7)
    head = []
    for batch in first.loader(num_workers=workers):
        head.append(batch["label"].tolist())  # "train on it", then checkpoint after 11 steps
        if len(head) == 11:
            break
    state = first.state_dict()
    resumed = open_split(lake, "demo", batch_size=3, seed=7)
    resumed.load_state_dict(state)
    tail = resumed.loader(num_workers=workers)
    assert len(tail) == len(full) - 11
    assert head + _labels_of(tail) == full


def test_open_split_says_what_is_wrong(lake: str):
    from sora_model.dataset import open_split

    with pytest.raises(ValueError, match=r"no 'test' rows; its splits: train, val"):
        open_split(lake, "demo", "test")
    with pytest.raises(ValueError, match=r"unknown reader option\(s\) \['batchsize'\]"):
        open_split(lake, "demo", batchsize=4)
    with pytest.raises(ValueError, match="'other' is not registered"):
        open_split(lake, "other")


def test_the_docs_open_split_example_runs_as_shown(lake: str, monkeypatch, capsys):
    from tests.docs_commands import python_code

    monkeypatch.chdir(Path(lake).parent)  # the docs' lake is ./lake
    exec(compile(python_code("open-split"), "docs/training.md", "exec"), {})  # noqa: S102 - the docs' own code
    assert capsys.readouterr().out.split()[:2] == ["1", "['a',"]
