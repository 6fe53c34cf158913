from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from sora_model.dataset.schema import METADATA_KEY, decode_frames, describe, schema_with_metadata
from sora_model.dataset.shards import ShardConfig, ShardWriter

SHAPE = [4, 16, 16, 3]  # 3072 bytes per row


def _row(i: int, split: str = "train") -> dict:
    frames = np.full(SHAPE, i % 256, np.uint8)
    return {"clip_id": f"c{i}", "video_id": f"v{i // 3}", "label": i % 6, "label_name": f"k{i % 6}",
            "split": split, "aug_index": 0, "frames": frames.tobytes(), "frames_shape": SHAPE}


def test_writer_rolls_files_and_row_groups_at_their_sizes(tmp_path):
    mb = 2**20
    cfg = ShardConfig(shard_size_mb=30 * 3072 / mb, row_group_size_mb=10 * 3072 / mb)
    schema = schema_with_metadata(describe(SHAPE, ["a"], "t", 1))
    writer = ShardWriter(str(tmp_path), "p0", schema, cfg)
    for i in range(95):
        writer.write(_row(i))
    files = writer.close()
    assert [f.rows for f in files] == [30, 30, 30, 5]
    for f in files:
        meta = pq.ParquetFile(f.uri).metadata
        assert meta.num_rows == f.rows
        assert all(meta.row_group(g).num_rows <= 10 for g in range(meta.num_row_groups))


def test_rows_round_trip_with_schema_metadata(tmp_path):
    schema = schema_with_metadata(describe(SHAPE, ["a", "b"], "demo", 3))
    writer = ShardWriter(str(tmp_path), "p1", schema, ShardConfig())
    uris = {writer.write(_row(i, split)) for i, split in enumerate(["train", "val", "train", "test"])}
    files = writer.close()
    assert {f.split for f in files} == {"train", "val", "test"}
    assert uris == {f.uri for f in files}
    for f in files:
        table = pq.read_table(f.uri)
        description = json.loads(table.schema.metadata[METADATA_KEY])
        assert description["frames"]["shape"] == SHAPE and description["version"] == 3
        for row in table.to_pylist():
            frames = decode_frames(row["frames"], row["frames_shape"])
            assert frames.shape == tuple(SHAPE) and np.all(frames == int(row["clip_id"][1:]) % 256)
            assert row["split"] == f.split


def test_shard_names_carry_the_attempt_prefix(tmp_path):
    writer = ShardWriter(str(tmp_path), "00003-1-abc", schema_with_metadata(describe(SHAPE, [], "t", 1)),
                         ShardConfig())
    writer.write(_row(0))
    (f,) = writer.close()
    assert f.uri.endswith("train/part-00003-1-abc-00000.parquet")


def test_wrong_frame_size_is_refused():
    with pytest.raises(ValueError, match="needs"):
        decode_frames(b"\x00" * 10, SHAPE)


def test_row_group_larger_than_shard_is_refused():
    with pytest.raises(ValueError):
        ShardConfig(shard_size_mb=1, row_group_size_mb=2)
