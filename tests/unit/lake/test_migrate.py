"""A lake from the release that keyed videos on video_id and rejects on uri alone gets one row per dataset."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from sora_model.lake import delta, storage
from sora_model.lake.layout import LakeLayout
from sora_model.lake.migrate import UNKNOWN_DATASET, keep_datasets_apart
from sora_model.lake.tables import KEYS, SCORING_REJECTS, arrow_schema

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _old(name: str) -> pa.Schema:
    return pa.schema([f for f in arrow_schema(name) if f.name != "dataset"])


def _write_old_lake(lake: str) -> None:
    """What the old release left after curating 'motion' (run m1) then 'demo' (run d1) from one corpus: v1's row
    holds demo's split and clip count; 'motion' rejected b.mp4 as low quality, 'demo' clipped it; a scoring run
    (s1, no run record) rejected x.mp4."""
    layout = LakeLayout.of(lake)
    for run, dataset in (("m1", "motion"), ("d1", "demo")):
        storage.write_text(storage.join(layout.run_record(run), "config.yaml"), f"dataset: {dataset}\n")
    video = {"size_bytes": 9, "modified_ms": 1, "codec": "h264", "updated_at": NOW}
    videos = [{**video, "video_id": "v1", "uri": "/in/a.mp4", "split": "test", "clip_count": 5, "run_id": "d1"},
              {**video, "video_id": "v2", "uri": "/in/b.mp4", "split": "train", "clip_count": 2, "run_id": "d1"},
              {**video, "video_id": "v3", "uri": "/in/c.mp4", "split": "train", "clip_count": 0, "run_id": "m1"},
              {**video, "video_id": "v4", "uri": "/in/d.mp4", "split": "val", "clip_count": 0, "run_id": "gone"}]
    clip = {"label": 0, "label_name": "up", "filter_reason": None, "dataset_version": 1}
    clips = [{**clip, "dataset": "motion", "clip_id": "m-a1", "video_id": "v1", "split": "train", "run_id": "m1"},
             {**clip, "dataset": "motion", "clip_id": "m-a2", "video_id": "v1", "split": "train", "run_id": "m1",
              "filter_reason": "blurry"},
             *[{**clip, "dataset": "demo", "clip_id": f"d-a{i}", "video_id": "v1", "split": "test", "run_id": "d1"}
               for i in range(5)],
             *[{**clip, "dataset": "demo", "clip_id": f"d-b{i}", "video_id": "v2", "split": "train", "run_id": "d1"}
               for i in range(2)]]
    reject = {"size_bytes": 9, "modified_ms": 1, "stage": "decode", "detail": "", "rejected_at": NOW}
    rejects = [{**reject, "uri": "/in/b.mp4", "video_id": "v2", "reason": "low_quality", "run_id": "m1"},
               {**reject, "uri": "/in/x.mp4", "video_id": "vx", "reason": "not_video", "run_id": "s1"}]
    for name, rows in (("videos", videos), ("clips", clips), ("rejects", rejects)):
        schema = _old(name) if name != "clips" else arrow_schema(name)
        delta.create(lake, name, schema)
        delta.merge(lake, name, pa.Table.from_pylist(rows, schema=schema), tuple(k for k in KEYS[name]
                                                                                 if k in schema.names))


def test_old_rows_go_to_each_dataset_whose_clips_or_run_they_came_from(tmp_path: Path):
    lake = str(tmp_path)
    _write_old_lake(lake)
    assert keep_datasets_apart(lake, "videos") == 5  # v1 is in both datasets
    got = {(r["dataset"], r["video_id"]): r for r in delta.read_rows(lake, "videos")}
    assert sorted(got) == [("(unknown)", "v4"), ("demo", "v1"), ("demo", "v2"), ("motion", "v1"),
                           ("motion", "v3")]
    # Each dataset's split and counts come from its own clips, not from the row the last writer left.
    assert (got["motion", "v1"]["split"], got["motion", "v1"]["clip_count"],
            got["motion", "v1"]["clips_filtered"], got["motion", "v1"]["run_id"]) == ("train", 1, 1, "m1")
    assert (got["demo", "v1"]["split"], got["demo", "v1"]["clip_count"], got["demo", "v1"]["run_id"]) == (
        "test", 5, "d1")
    assert got["motion", "v1"]["uri"] == "/in/a.mp4" and got["motion", "v1"]["codec"] == "h264"
    assert got[UNKNOWN_DATASET, "v4"]["uri"] == "/in/d.mp4"

    assert keep_datasets_apart(lake, "rejects") == 2
    rejects = {(r["dataset"], r["uri"]): r["reason"] for r in delta.read_rows(lake, "rejects")}
    assert rejects == {("motion", "/in/b.mp4"): "low_quality", (SCORING_REJECTS, "/in/x.mp4"): "not_video"}
    assert delta.columns(lake, "videos") == arrow_schema("videos").names


def test_an_upgraded_or_new_lake_is_left_as_it_is(tmp_path: Path):
    lake = str(tmp_path)
    assert keep_datasets_apart(lake, "videos") == 0  # no table yet
    _write_old_lake(lake)
    keep_datasets_apart(lake, "videos")
    version = delta.table_version(lake, "videos")
    assert keep_datasets_apart(lake, "videos") == 0
    assert delta.table_version(lake, "videos") == version
