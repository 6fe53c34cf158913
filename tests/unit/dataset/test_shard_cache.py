from __future__ import annotations

import os
from pathlib import Path

import pytest

from sora_model.dataset.shard_cache import ShardCache


def test_local_shards_are_used_in_place(tmp_path: Path):
    cache = ShardCache(str(tmp_path / "cache"), max_bytes=10)
    assert cache.local(str(tmp_path / "a.parquet")) == str(tmp_path / "a.parquet")
    assert not (tmp_path / "cache").exists()


def test_the_least_recently_used_copies_go_first(tmp_path: Path):
    cache = ShardCache(str(tmp_path), max_bytes=300)
    for i, name in enumerate(("old", "mid", "new")):
        p = tmp_path / f"{name}.parquet"
        p.write_bytes(b"x" * 100)
        os.utime(p, (1000 + i, 1000 + i))
    cache._make_room(150)  # noqa: SLF001 - the eviction rule itself
    assert sorted(p.stem for p in tmp_path.glob("*.parquet")) == ["new"]
    assert cache.size_bytes() == 100


def test_a_cache_needs_room():
    with pytest.raises(ValueError, match="max_bytes must be > 0"):
        ShardCache(max_bytes=0)
