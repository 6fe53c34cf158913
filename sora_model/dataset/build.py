"""Curation's per-video dataset work: decode a probed video's clips (with augmented copies) and write them as
shard rows. One :class:`VideoProcessor` per task attempt, so its shard files are its own.

Records are plain dicts; the pipeline's row schemas (``pipelines/rows.py``) name their columns.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from sora_model.dataset.schema import describe, schema_with_metadata
from sora_model.dataset.shards import ShardConfig, ShardFile, ShardWriter
from sora_model.lake.ids import clip_id as make_clip_id
from sora_model.video import quality as quality_lib
from sora_model.video import rejects
from sora_model.video.augment import AugmentConfig, augment_frames, jitter_indices
from sora_model.video.clips import ClipConfig, Picker, Span, sample_indices
from sora_model.video.decode import DecodeConfig
from sora_model.video.process import DecodedVideo, ProbedVideo, decode_video
from sora_model.video.quality import QualityConfig
from sora_model.video.rejects import NOT_REJECTED, Rejected


@dataclass(frozen=True)
class DatasetPlan:
    """What a decode task needs to turn accepted videos into shard rows (shipped to executors once)."""

    name: str
    version: int
    out_uri: str
    """Directory of this dataset version's new shards."""
    classes: tuple[str, ...]
    clip: ClipConfig
    decode: DecodeConfig
    augment: AugmentConfig
    shard: ShardConfig
    quality: QualityConfig = QualityConfig()


@dataclass(frozen=True)
class AugmentedRows:
    """Picker of one clip's rows: the uniform sample, then ``copies`` jittered ones (seeded by the clip id).
    A plain object, so it travels to the decoding process."""

    count: int
    video_id: str
    copies: int
    augment: AugmentConfig

    def __call__(self, span: Span) -> list[np.ndarray]:
        base = sample_indices(span, self.count)
        cid = make_clip_id(self.video_id, span.start_frame, span.end_frame)
        return [base] + [jitter_indices(base, span, cid, k, self.augment) for k in range(1, self.copies + 1)]


class VideoProcessor:
    """Clips, decodes, augments and shards videos; one per task attempt, so its shard names are its own."""

    def __init__(self, plan: DatasetPlan, task_tag: str) -> None:
        self.plan = plan
        description = describe(plan.decode.frames_shape, list(plan.classes), plan.name, plan.version)
        prefix = f"{task_tag}-{uuid.uuid4().hex[:10]}"
        self.writer = ShardWriter(plan.out_uri, prefix, schema_with_metadata(description), plan.shard)

    def _picker(self, video_id: str, split: str) -> Picker:
        aug = self.plan.augment
        return AugmentedRows(self.plan.decode.frames_per_clip, video_id, aug.copies if split in aug.splits else 0,
                             aug)

    def process(self, video: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Clip records and the video's status record for one accepted video (``uri``, ``video_id``, probe facts,
        ``label``, ``label_name``, ``split``). The status has the ``reject_*`` columns set when no clip decoded."""
        start = time.perf_counter()
        decoding = decode_video(ProbedVideo.from_columns(video), self.plan.clip, self.plan.decode,
                                self._picker(video["video_id"], video["split"]))
        clips = [self._write_clip(video, index, span, rows, decoding)
                 for index, (span, rows) in enumerate(decoding.clips)]
        report, rejected = decoding.report, decoding.rejected
        filtered = Counter(c["filter_reason"] for c in clips if c["filter_reason"])
        kept = len(clips) - sum(filtered.values())
        if rejected is None and not kept:
            counts = ", ".join(f"{n} {reason}" for reason, n in sorted(filtered.items()))
            rejected = Rejected("decode", rejects.LOW_QUALITY, f"every clip filtered: {counts}",
                                video_id=video["video_id"])
        status = {
            "video_id": video["video_id"],
            "decoder": report.decoder or None,
            "decoded_frame_count": report.frame_count,
            "clip_count": kept,
            "clips_filtered": len(clips) - kept,
            "clips_dropped": max(0, report.clips_planned - report.clips_decoded),
            "cuts": list(report.cuts),
            "fallback_reason": report.fallback_reason or None,
            "decode_error": report.error or None,
            "decode_s": time.perf_counter() - start,
            **(rejected.columns() if rejected else NOT_REJECTED),
        }
        return clips, status

    def _write_clip(self, video: dict[str, Any], index: int, span: Span, rows: list[np.ndarray],
                    decoding: DecodedVideo) -> dict[str, Any]:
        cid = make_clip_id(video["video_id"], span.start_frame, span.end_frame)
        expected = self.plan.decode.frames_shape
        bad = [tuple(r.shape) for r in rows if tuple(r.shape) != expected]
        if bad:
            raise RuntimeError(f"bug: clip {cid} of {video['uri']} decoded to {bad[0]}, dataset needs {expected}")
        scores = quality_lib.measure(rows[0])  # the un-augmented sample: what the clip shows
        filtered = quality_lib.verdict(scores, self.plan.quality)
        shard_uri = ""
        for aug_index, frames in enumerate([] if filtered else rows):
            if aug_index > 0:
                frames = augment_frames(frames, cid, aug_index, self.plan.augment)
            uri = self.writer.write({
                "clip_id": cid, "video_id": video["video_id"], "label": int(video["label"]),
                "label_name": video["label_name"], "split": video["split"], "aug_index": aug_index,
                "frames": np.ascontiguousarray(frames, dtype=np.uint8).tobytes(),
                "frames_shape": list(frames.shape),
            })
            shard_uri = shard_uri or uri
        start_s, end_s = decoding.seconds(span)
        return {
            "clip_id": cid, "video_id": video["video_id"], "clip_index": index,
            "start_frame": span.start_frame, "end_frame": span.end_frame, "start_s": start_s, "end_s": end_s,
            "rows": 0 if filtered else len(rows), "shard_uri": shard_uri or None, **scores.columns(),
            "filter_reason": filtered[0] if filtered else None, "filter_detail": filtered[1] if filtered else None,
        }

    def close(self) -> list[ShardFile]:
        return self.writer.close()
