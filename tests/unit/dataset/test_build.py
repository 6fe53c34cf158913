from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sora_model.dataset.build import DatasetPlan, VideoProcessor
from sora_model.dataset.schema import decode_frames
from sora_model.dataset.shards import ShardConfig
from sora_model.lake.ids import clip_id
from sora_model.video import rejects
from sora_model.video.augment import AugmentConfig
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig
from sora_model.video.decode import DecodeConfig
from sora_model.video.process import probe_video


def _plan(out: Path, copies: int = 1) -> DatasetPlan:
    return DatasetPlan(name="t", version=1, out_uri=str(out), classes=("left", "right"),
                       clip=ClipConfig(mode="shots"), decode=DecodeConfig(height_px=32, width_px=32),
                       augment=AugmentConfig(copies=copies, hflip_p=0.5), shard=ShardConfig())


def _video(corpus: Path, name: str, split: str = "train") -> dict:
    probed = probe_video(str(corpus / name), CleanConfig())
    return {"uri": probed.uri, "label": 1, "label_name": "right", "split": split, **probed.columns()}


def test_processor_writes_one_row_per_clip_and_copy(corpus: Path, manifest: dict, tmp_path: Path):
    spec = manifest["videos"][1]
    video = _video(corpus, spec["name"])
    proc = VideoProcessor(_plan(tmp_path), "p0")
    clips, status = proc.process(video)
    files = proc.close()
    assert status["reject_reason"] is None and status["clip_count"] == len(clips) > 0
    assert status["decoder"] == "decord"
    rows = [r for f in files for r in pq.read_table(f.uri).to_pylist()]
    assert len(rows) == 2 * len(clips)
    for c in clips:
        assert c["clip_id"] == clip_id(video["video_id"], c["start_frame"], c["end_frame"])
        mine = sorted((r for r in rows if r["clip_id"] == c["clip_id"]), key=lambda r: r["aug_index"])
        assert [r["aug_index"] for r in mine] == [0, 1]
        assert all(r["label"] == 1 and r["split"] == "train" for r in mine)
        assert decode_frames(mine[0]["frames"], mine[0]["frames_shape"]).shape == (8, 32, 32, 3)


def test_eval_splits_get_no_augmented_copies(corpus: Path, manifest: dict, tmp_path: Path):
    proc = VideoProcessor(_plan(tmp_path), "p0")
    clips, _ = proc.process(_video(corpus, manifest["videos"][2]["name"], split="val"))
    rows = [r for f in proc.close() for r in pq.read_table(f.uri).to_pylist()]
    assert len(rows) == len(clips) and {r["aug_index"] for r in rows} == {0}


def test_same_config_writes_byte_identical_rows(corpus: Path, manifest: dict, tmp_path: Path):
    video = _video(corpus, manifest["videos"][3]["name"])
    outputs = []
    for attempt in ("a", "b"):
        proc = VideoProcessor(_plan(tmp_path / attempt, copies=2), attempt)
        proc.process(video)
        rows = [r for f in proc.close() for r in pq.read_table(f.uri).to_pylist()]
        outputs.append(sorted((r["clip_id"], r["aug_index"], r["frames"]) for r in rows))
    assert outputs[0] == outputs[1]


def test_undecodable_video_is_a_decode_reject(corpus: Path, tmp_path: Path):
    video = _video(corpus, "incoming/truncated_partial.mp4")
    plan = dataclasses.replace(_plan(tmp_path), decode=DecodeConfig(pyav_fallback=False))
    proc = VideoProcessor(plan, "p0")
    clips, status = proc.process(video)
    assert clips == [] and status["reject_reason"] == rejects.UNDECODABLE and status["reject_detail"]
    assert status["reject_stage"] == "decode"
    assert proc.close() == []


def test_truncated_video_keeps_pyav_clips(corpus: Path, tmp_path: Path):
    proc = VideoProcessor(_plan(tmp_path), "p0")
    clips, status = proc.process(_video(corpus, "incoming/truncated_partial.mp4"))
    proc.close()
    assert clips and status["decoder"] == "pyav" and "decord" in status["fallback_reason"]
    assert all(np.isfinite(c["end_s"]) for c in clips)
