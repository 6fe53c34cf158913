"""Decode records become table rows in Arrow (``pipelines.rows.table_rows``): the driver shapes a small
increment with it, the executors a large one, so both paths write the same rows."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pytest

from pipelines import rows
from sora_model.lake.tables import arrow_schema

RUN = {"run_id": "r1", "now": datetime(2026, 12, 1, tzinfo=timezone.utc), "dataset": "demo", "dataset_version": 3}
VIDEO = {"video_id": "v1", "uri": "/in/a.mp4", "size_bytes": 10, "modified_ms": 5, "codec": "h264", "split": "train",
         "label": 2, "label_name": "up", "signature": [1, 2], "cuts": [7], "decoder": "decord"}


def _decoded(records: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(records, schema=rows.DECODED)


def test_each_table_gets_its_own_records_in_its_schema_with_the_run_columns():
    decoded = _decoded([
        {"kind": "video", **VIDEO},
        {"kind": "video", **VIDEO, "video_id": "v2", "uri": "/in/bad.mp4", "reject_stage": "decode",
         "reject_reason": "undecodable", "reject_detail": "no frame"},
        {"kind": "clip", "video_id": "v1", "clip_id": "c1", "split": "train", "label": 2, "label_name": "up"},
        {"kind": "shard", "shard_uri": "/lake/s.parquet", "shard_rows": 1},
    ])
    videos = rows.table_rows(decoded, "videos", RUN)
    assert videos.schema == arrow_schema("videos")
    assert videos.to_pylist()[0] | {"updated_at": None} == {
        **{n: None for n in arrow_schema("videos").names}, **VIDEO, "dataset": "demo", "run_id": "r1",
        "updated_at": None}
    (reject,) = rows.table_rows(decoded, "rejects", RUN).to_pylist()
    assert (reject["dataset"], reject["uri"], reject["stage"], reject["reason"], reject["run_id"]) == (
        "demo", "/in/bad.mp4", "decode", "undecodable", "r1")
    (clip,) = rows.table_rows(decoded, "clips", RUN).to_pylist()
    assert (clip["clip_id"], clip["label_name"], clip["dataset"], clip["dataset_version"]) == ("c1", "up", "demo", 3)


def test_run_columns_replace_what_the_rows_had():
    videos = rows.table_rows(_decoded([{"kind": "video", **VIDEO}]), "videos", RUN)
    later = datetime(2026, 12, 2, tzinfo=timezone.utc)
    again = rows.with_run_columns(videos, "videos", {**RUN, "run_id": "r2", "now": later})
    assert again["run_id"].to_pylist() == ["r2"] and again["updated_at"].to_pylist() == [later]
    with pytest.raises(RuntimeError, match=r"lack columns \['uri'"):
        rows.with_run_columns(videos.drop_columns(["uri"]), "videos", RUN)


def test_a_table_decode_records_do_not_hold_is_a_bug():
    with pytest.raises(RuntimeError, match="no rows of table 'models'"):
        rows.table_rows(_decoded([]), "models", RUN)
