from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sora_model.dataset.reader import EpochPlan, ReaderConfig, ShardError, buffer_shuffle, iter_batches, scan_row_groups
from sora_model.dataset.schema import describe, schema_with_metadata
from sora_model.dataset.shards import ShardConfig, ShardWriter

SHAPE = [2, 4, 4, 3]
ROW_BYTES = int(np.prod(SHAPE))


def _write_shards(root: Path, sizes: list[int], rows_per_group: int = 7) -> list[str]:
    """Shards of the given row counts; row i's frames are all (i % 251) and its label is i."""
    uris, i = [], 0
    cfg = ShardConfig(shard_size_mb=1000, row_group_size_mb=rows_per_group * ROW_BYTES / 2**20)
    for n, size in enumerate(sizes):
        writer = ShardWriter(str(root), f"s{n}", schema_with_metadata(describe(SHAPE, [], "t", 1)), cfg)
        for _ in range(size):
            writer.write({"clip_id": f"c{i}", "video_id": "v", "label": i, "label_name": "", "split": "train",
                          "aug_index": 0, "frames": np.full(SHAPE, i % 251, np.uint8).tobytes(),
                          "frames_shape": SHAPE})
            i += 1
        uris.extend(f.uri for f in writer.close())
    return uris


@pytest.fixture
def uneven(tmp_path: Path) -> list[str]:
    return _write_shards(tmp_path, [5, 61, 17, 2, 40])  # 125 rows, deliberately uneven


def _labels(groups, desc, cfg, epoch, rank, world, worker=0, workers=1, skip=0) -> list[int]:
    return [int(x) for b in iter_batches(groups, desc, cfg, epoch, rank, world, worker, workers, skip)
            for x in b["label"]]


def test_every_rank_gets_the_same_number_of_full_batches_from_uneven_shards(uneven):
    groups, desc = scan_row_groups(uneven)
    cfg = ReaderConfig(batch_size=8, shuffle_buffer=16)
    per_rank = [list(iter_batches(groups, desc, cfg, 0, r, 3)) for r in range(3)]
    assert [len(b) for b in per_rank] == [125 // 24] * 3
    assert all(b["frames"].shape == (8, *SHAPE) for batches in per_rank for b in batches)
    seen = [x for batches in per_rank for b in batches for x in b["label"].tolist()]
    assert len(seen) == len(set(seen))  # no row twice in an epoch


def test_frames_and_labels_stay_together(uneven):
    groups, desc = scan_row_groups(uneven)
    for b in iter_batches(groups, desc, ReaderConfig(batch_size=5), 1, 0, 1):
        for frames, label in zip(b["frames"], b["label"]):
            assert np.all(frames == label % 251)


def test_order_is_seeded_per_epoch_and_reproducible(uneven):
    groups, desc = scan_row_groups(uneven)
    cfg = ReaderConfig(batch_size=4, shuffle_buffer=8, seed=3)
    assert _labels(groups, desc, cfg, 0, 0, 2) == _labels(groups, desc, cfg, 0, 0, 2)
    assert _labels(groups, desc, cfg, 0, 0, 2) != _labels(groups, desc, cfg, 1, 0, 2)
    plain = _labels(groups, desc, ReaderConfig(batch_size=4, shuffle=False), 0, 0, 1)
    assert plain == list(range(len(plain)))


def test_workers_split_a_rank_without_overlap(uneven):
    groups, desc = scan_row_groups(uneven)
    cfg = ReaderConfig(batch_size=4)
    whole = _labels(groups, desc, cfg, 2, 1, 2, 0, 1)
    parts = [_labels(groups, desc, cfg, 2, 1, 2, w, 3) for w in range(3)]
    assert Counter(x for p in parts for x in p) == Counter(whole)


def test_skipping_batches_resumes_the_same_sequence(uneven):
    groups, desc = scan_row_groups(uneven)
    cfg = ReaderConfig(batch_size=4, shuffle_buffer=32)
    full = _labels(groups, desc, cfg, 5, 0, 1)
    assert _labels(groups, desc, cfg, 5, 0, 1, skip=7) == full[7 * 4:]


def test_buffer_shuffle_is_a_permutation_that_never_runs_ahead_of_reading():
    order = buffer_shuffle(1000, 50, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(1000))
    assert np.all(order[:951] <= np.arange(951) + 49)


def _pool_shuffle(n: int, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """The shuffle buffer as its docstring tells it, one position at a time."""
    out, pool, draws = [], [], rng.random(n)
    for k in range(n):
        pool.append(k)
        if len(pool) >= buffer:
            j = int(draws[k] * len(pool))
            pool[j], pool[-1] = pool[-1], pool[j]
            out.append(pool.pop())
    tail = np.asarray(pool, dtype=np.int64)
    rng.shuffle(tail)
    return np.concatenate([np.asarray(out, dtype=np.int64), tail])


@pytest.mark.parametrize("n", [0, 1, 49, 50, 51, 1000, 5003])
@pytest.mark.parametrize("buffer", [1, 2, 50, 1000, 8192])
def test_buffer_shuffle_gives_the_order_the_pool_gives_one_position_at_a_time(n: int, buffer: int):
    # Resuming an epoch relies on the order: the sort that computes it must give the pool's order exactly.
    for seed in range(3):
        got = buffer_shuffle(n, buffer, np.random.default_rng(seed))
        assert np.array_equal(got, _pool_shuffle(n, buffer, np.random.default_rng(seed)))


def test_too_few_rows_for_one_batch_per_rank_is_an_error(uneven):
    groups, _ = scan_row_groups(uneven)
    with pytest.raises(ValueError, match="one batch"):
        EpochPlan(groups, ReaderConfig(batch_size=100), 0, 2)


def test_missing_shard_is_named(uneven, tmp_path: Path):
    with pytest.raises(ShardError, match="gone.parquet"):
        scan_row_groups([*uneven, str(tmp_path / "gone.parquet")])


def test_corrupt_shard_is_named(uneven):
    Path(uneven[1]).write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ShardError, match=Path(uneven[1]).name):
        scan_row_groups(uneven)


def test_eval_batches_cover_every_row_once_in_order(uneven):
    from sora_model.dataset.reader import iter_eval_batches

    groups, desc = scan_row_groups(uneven)
    labels = [int(x) for b in iter_eval_batches(groups, desc, 6) for x in b["label"]]
    assert labels == list(range(125))


@pytest.mark.parametrize("rows_per_piece", [1, 2, 3])
def test_row_groups_read_in_pieces_give_the_same_rows(uneven, monkeypatch, rows_per_piece: int):
    from sora_model.dataset import reader
    from sora_model.dataset.reader import RowGroupCache, frames_view, iter_eval_batches
    from sora_model.dataset.shard_cache import ShardCache

    groups, desc = scan_row_groups(uneven)
    whole = [iter_batches(groups, desc, ReaderConfig(batch_size=5), 2, 0, 1), iter_eval_batches(groups, desc, 6)]
    whole = [[{k: v.copy() for k, v in b.items()} for b in batches] for batches in whole]
    monkeypatch.setattr(reader, "READ_PIECE_BYTES", rows_per_piece * ROW_BYTES)
    table = RowGroupCache(["label", "frames"], ShardCache(), ROW_BYTES).read(groups[1])
    assert table.column("frames").num_chunks == -(-groups[1].rows // rows_per_piece)
    frames = np.concatenate(frames_view(table, SHAPE))
    assert frames[:, 0, 0, 0, 0].tolist() == [x % 251 for x in table.column("label").to_pylist()]
    pieces = [iter_batches(groups, desc, ReaderConfig(batch_size=5), 2, 0, 1), iter_eval_batches(groups, desc, 6)]
    for got, want in zip(pieces, whole):
        got = list(got)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.keys() == w.keys()
            assert all(np.array_equal(g[k], w[k]) for k in g)
