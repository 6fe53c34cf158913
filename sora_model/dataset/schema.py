"""The dataset's row layout: one row per (clip, aug_index), frames as raw uint8 bytes in C order.

Shards are plain Parquet so any Parquet reader (petastorm's make_batch_reader included) can read them. The
schema description travels in the Parquet key-value metadata as JSON under ``sora_model.schema``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

METADATA_KEY = b"sora_model.schema"
FORMAT_VERSION = 1

ARROW_SCHEMA = pa.schema([
    pa.field("clip_id", pa.string(), nullable=False),
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("label", pa.int32(), nullable=False),
    pa.field("label_name", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("aug_index", pa.int32(), nullable=False),
    pa.field("frames", pa.binary(), nullable=False),
    pa.field("frames_shape", pa.list_(pa.int32()), nullable=False),
])


def describe(frames_shape: list[int] | tuple[int, ...], classes: list[str], dataset: str,
             version: int) -> dict[str, Any]:
    """The JSON kept in every shard's key-value metadata (and in the datasets table's schema_json)."""
    return {
        "format_version": FORMAT_VERSION,
        "dataset": dataset,
        "version": version,
        "columns": {f.name: str(f.type) for f in ARROW_SCHEMA},
        "frames": {"dtype": "uint8", "shape": list(frames_shape), "layout": "THWC", "order": "C",
                   "colorspace": "RGB"},
        "classes": list(classes),
    }


def schema_with_metadata(description: dict[str, Any]) -> pa.Schema:
    return ARROW_SCHEMA.with_metadata({METADATA_KEY: json.dumps(description, sort_keys=True).encode()})


def read_description(schema: pa.Schema) -> dict[str, Any]:
    meta = schema.metadata or {}
    if METADATA_KEY not in meta:
        raise ValueError("Parquet file has no sora_model.schema metadata: not a sora_model shard")
    return json.loads(meta[METADATA_KEY])


def decode_frames(buf: bytes, shape: list[int] | tuple[int, ...]) -> np.ndarray:
    """Zero-copy view of a row's frames as ``uint8 [T, H, W, C]``."""
    array = np.frombuffer(buf, dtype=np.uint8)
    expected = int(np.prod(shape))
    if array.size != expected:
        raise ValueError(f"frames hold {array.size} bytes, shape {list(shape)} needs {expected}")
    return array.reshape(shape)
