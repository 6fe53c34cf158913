"""The catalog reads the datasets table with delta-rs; the table here is written with delta-rs too (no JVM)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from sora_model.dataset.catalog import load_dataset
from sora_model.lake.layout import LakeLayout


def _row(version: int, shards: list[tuple[str, str]]) -> dict:
    return {"name": "demo", "version": version, "shard_uris": [u for u, _ in shards],
            "shard_splits": [s for _, s in shards], "rows_per_split": {"train": 3 * version, "val": 1},
            "frames_shape": [4, 32, 32, 3], "classes": ["left", "right"],
            "schema_json": json.dumps({"frames": {"layout": "THWC"}})}


@pytest.fixture
def lake(tmp_path: Path) -> str:
    from deltalake import write_deltalake

    rows = [_row(1, [("/l/a.parquet", "train")]), _row(2, [("/l/a.parquet", "train"), ("/l/b.parquet", "train"),
                                                          ("/l/c.parquet", "val")])]
    schema = pa.schema([("name", pa.string()), ("version", pa.int32()), ("shard_uris", pa.list_(pa.string())),
                        ("shard_splits", pa.list_(pa.string())), ("rows_per_split", pa.map_(pa.string(), pa.int64())),
                        ("frames_shape", pa.list_(pa.int32())), ("classes", pa.list_(pa.string())),
                        ("schema_json", pa.string())])
    write_deltalake(LakeLayout.of(str(tmp_path)).table("datasets"), pa.Table.from_pylist(rows, schema=schema))
    return str(tmp_path)


def test_the_newest_version_lists_every_shard_by_split(lake: str):
    ds = load_dataset(lake, "demo")
    assert ds.version == 2 and ds.shards == {"train": ["/l/a.parquet", "/l/b.parquet"], "val": ["/l/c.parquet"]}
    assert ds.rows_per_split == {"train": 6, "val": 1} and ds.frames_shape == [4, 32, 32, 3]
    assert ds.schema["frames"]["layout"] == "THWC"


def test_an_older_version_can_be_asked_for(lake: str):
    assert load_dataset(lake, "demo", 1).shards == {"train": ["/l/a.parquet"]}


def test_missing_versions_names_and_tables_say_what_exists(lake: str, tmp_path: Path):
    with pytest.raises(ValueError, match=r"no version 7; versions: \[1, 2\]"):
        load_dataset(lake, "demo", 7)
    with pytest.raises(ValueError, match="'other' is not registered"):
        load_dataset(lake, "other")
    with pytest.raises(ValueError, match="run the curate job first"):
        load_dataset(str(tmp_path / "empty"), "demo")
