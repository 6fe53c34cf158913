from __future__ import annotations

import numpy as np
import pytest

from sora_model.dataset.schema import ARROW_SCHEMA, decode_frames, describe, read_description, schema_with_metadata
from sora_model.video.decode import DecodeConfig


def test_the_description_travels_in_the_parquet_metadata():
    shape = DecodeConfig(frames_per_clip=4, height_px=16, width_px=24).frames_shape
    desc = describe(shape, ["a", "b"], "demo", 3)
    assert desc["frames"]["shape"] == [4, 16, 24, 3] and desc["classes"] == ["a", "b"] and desc["version"] == 3
    assert read_description(schema_with_metadata(desc)) == desc


def test_a_parquet_file_without_the_description_is_not_a_shard():
    with pytest.raises(ValueError, match="not a sora_model shard"):
        read_description(ARROW_SCHEMA)


def test_frames_are_a_view_of_the_right_size_only():
    clip = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    assert np.array_equal(decode_frames(clip.tobytes(), [2, 3, 4, 3]), clip)
    with pytest.raises(ValueError, match="needs 72"):
        decode_frames(clip.tobytes()[:-1], [2, 3, 4, 3])


def test_shards_keep_the_description_under_the_documented_key(tmp_path):
    """Readers outside the project (petastorm, plain pyarrow) find the layout under the key the README names."""
    import json

    import pyarrow.parquet as pq

    from sora_model.dataset.shards import ShardConfig, ShardWriter

    shape = [1, 8, 8, 3]
    writer = ShardWriter(str(tmp_path), "t", schema_with_metadata(describe(shape, ["a"], "demo", 1)), ShardConfig())
    writer.write({"clip_id": "c", "video_id": "v", "label": 0, "label_name": "a", "split": "train", "aug_index": 0,
                  "frames": bytes(192), "frames_shape": shape})
    (shard,) = writer.close()
    metadata = pq.read_schema(shard.uri).metadata
    assert json.loads(metadata[b"sora_model.schema"])["frames"]["layout"] == "THWC"
