"""Per-video work of the curate pipeline as plain functions over plain records.

Spark maps these over partitions; they know nothing of Spark, of ranks or of the driver's paths. Records are
dicts whose keys match the pipeline's Arrow schemas.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from sora_model import rejects, storage
from sora_model.augment import AugmentConfig, augment_frames, jitter_indices
from sora_model.clean import CleanConfig, check
from sora_model.clips import ClipConfig, Span, sample_indices
from sora_model.decode import DecodeConfig, DecodeReport, decode_clips
from sora_model.ids import clip_id as make_clip_id
from sora_model.probe import ProbeResult, probe_file
from sora_model.rejects import Rejected
from sora_model.schema import describe, frames_shape, schema_with_metadata
from sora_model.shards import ShardConfig, ShardFile, ShardWriter

PROBE_FIELDS = ("container", "codec", "width_px", "height_px", "fps", "duration_s", "frame_count")


def probe_one(uri: str, cfg: CleanConfig) -> dict[str, Any]:
    """Hash and probe one file, then apply the per-file quality gate. Never raises for a bad file."""
    start = time.perf_counter()
    out: dict[str, Any] = {k: None for k in ("video_id", "reject_stage", "reject_reason", "reject_detail",
                                             *PROBE_FIELDS)}
    try:
        with storage.open_local(uri) as path:
            out["video_id"] = storage.sha256_file(path)
            result: ProbeResult | Rejected = probe_file(path)
    except OSError as e:
        result = Rejected("ingest", rejects.IO_ERROR, f"{type(e).__name__}: {e}")
    if isinstance(result, ProbeResult):
        out.update({k: getattr(result, k) for k in PROBE_FIELDS})
        result = check(result, cfg) or result
    if isinstance(result, Rejected):
        out.update(reject_stage=result.stage, reject_reason=result.reason, reject_detail=result.detail)
    out["probe_s"] = time.perf_counter() - start
    return out


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

    @property
    def frames_shape(self) -> list[int]:
        return frames_shape(self.decode.frames_per_clip, self.decode.height_px, self.decode.width_px)


class VideoProcessor:
    """Clips, decodes, augments and shards videos; one per task attempt, so its shard names are its own."""

    def __init__(self, plan: DatasetPlan, task_tag: str) -> None:
        self.plan = plan
        description = describe(plan.frames_shape, list(plan.classes), plan.name, plan.version)
        prefix = f"{task_tag}-{uuid.uuid4().hex[:10]}"
        self.writer = ShardWriter(plan.out_uri, prefix, schema_with_metadata(description), plan.shard)

    def _picker(self, video_id: str, split: str):  # noqa: ANN202 - Picker
        count = self.plan.decode.frames_per_clip
        aug = self.plan.augment
        copies = aug.copies if split in aug.splits else 0

        def pick(span: Span) -> list[np.ndarray]:
            base = sample_indices(span, count)
            cid = make_clip_id(video_id, span.start_frame, span.end_frame)
            return [base] + [jitter_indices(base, span, cid, k, aug) for k in range(1, copies + 1)]

        return pick

    def process(self, video: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Returns (clip records, video status record). Status has reject_* set when no clip was decoded."""
        start = time.perf_counter()
        video_id, split, fps = video["video_id"], video["split"], float(video["fps"])
        probe = ProbeResult(**{k: video[k] for k in PROBE_FIELDS})
        report = DecodeReport()
        clips: list[dict[str, Any]] = []
        try:
            with storage.open_local(video["uri"]) as path:
                stream = decode_clips(path, probe, self.plan.clip, self.plan.decode,
                                      self._picker(video_id, split), report)
                for index, (span, rows) in enumerate(stream):
                    clips.append(self._write_clip(video, index, span, rows, fps))
        except OSError as e:
            report.error = f"{type(e).__name__}: {e}"
        status = {
            "video_id": video_id,
            "decoder": report.decoder or None,
            "decoded_frame_count": report.frame_count,
            "clip_count": len(clips),
            "clips_dropped": max(0, report.clips_planned - report.clips_decoded),
            "cuts": list(report.cuts),
            "fallback_reason": report.fallback_reason or None,
            "decode_error": report.error or None,
            "decode_s": time.perf_counter() - start,
            "reject_reason": None,
            "reject_detail": None,
        }
        if not clips:
            status["reject_reason"] = rejects.UNDECODABLE
            status["reject_detail"] = (report.error or report.fallback_reason
                                       or f"no clip of at least {self.plan.clip.min_clip_len_s} s")
        return clips, status

    def _write_clip(self, video: dict[str, Any], index: int, span: Span, rows: list[np.ndarray],
                    fps: float) -> dict[str, Any]:
        cid = make_clip_id(video["video_id"], span.start_frame, span.end_frame)
        expected = tuple(self.plan.frames_shape)
        bad = [tuple(r.shape) for r in rows if tuple(r.shape) != expected]
        if bad:
            raise RuntimeError(f"bug: clip {cid} of {video['uri']} decoded to {bad[0]}, dataset needs {expected}")
        shard_uri = ""
        for aug_index, frames in enumerate(rows):
            if aug_index > 0:
                frames = augment_frames(frames, cid, aug_index, self.plan.augment)
            uri = self.writer.write({
                "clip_id": cid, "video_id": video["video_id"], "label": int(video["label"]),
                "label_name": video["label_name"], "split": video["split"], "aug_index": aug_index,
                "frames": np.ascontiguousarray(frames, dtype=np.uint8).tobytes(),
                "frames_shape": list(frames.shape),
            })
            shard_uri = shard_uri or uri
        return {
            "clip_id": cid, "video_id": video["video_id"], "clip_index": index,
            "start_frame": span.start_frame, "end_frame": span.end_frame,
            "start_s": span.start_frame / fps, "end_s": span.end_frame / fps,
            "rows": len(rows), "shard_uri": shard_uri,
        }

    def close(self) -> list[ShardFile]:
        return self.writer.close()
