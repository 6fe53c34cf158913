"""The per-video path, shared by curation and scoring: a URI -> probe facts -> clip spans with their decoded
frames, or a ``Rejected`` that says why not.

Plain functions over plain values; Spark maps them over partitions and they never see it, a rank or a driver
path. Curation runs the two halves in separate stages (exact duplicates are found between them); scoring runs
both at once through :func:`open_video`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from sora_model.lake import storage
from sora_model.video import rejects
from sora_model.video.clean import CleanConfig, check
from sora_model.video.clips import ClipConfig, Picker, Span
from sora_model.video.decode import DecodeConfig, DecodeReport, decode_clips
from sora_model.video.probe import PROBE_FIELDS, ProbeResult, probe_file
from sora_model.video.rejects import Rejected


@dataclass(frozen=True)
class ProbedVideo:
    """A file that was read, hashed, probed and passed the per-file gate."""

    uri: str
    video_id: str
    """sha256 of the content."""
    probe: ProbeResult

    def columns(self) -> dict[str, Any]:
        """``video_id`` and the probe facts, as columns."""
        return {"video_id": self.video_id, **dataclasses.asdict(self.probe)}

    @classmethod
    def from_columns(cls, record: dict[str, Any]) -> ProbedVideo:
        """Back from a record holding ``uri``, ``video_id`` and the probe facts (other keys are ignored)."""
        return cls(record["uri"], record["video_id"], ProbeResult(**{k: record[k] for k in PROBE_FIELDS}))


def probe_video(uri: str, clean: CleanConfig) -> ProbedVideo | Rejected:
    """Hash and probe one file, then apply the per-file quality gate. Never raises for a bad file."""
    video_id = None
    try:
        with storage.open_local(uri) as path:
            video_id = storage.sha256_file(path)
            result: ProbeResult | Rejected = probe_file(path)
    except OSError as e:
        result = Rejected("ingest", rejects.IO_ERROR, f"{type(e).__name__}: {e}")
    if isinstance(result, ProbeResult):
        result = check(result, clean) or result
    if isinstance(result, Rejected):
        return result.with_video_id(video_id)
    return ProbedVideo(uri, video_id, result)


class VideoDecode:
    """One probed video's clips as they decode. Iterate for ``(span, rows)`` (rows as ``pick`` asks, each
    ``uint8 [T, H, W, 3]``); afterwards ``report`` says what happened and ``rejected`` why not one clip came out
    (None when at least one did). Never raises for a bad file."""

    def __init__(self, video: ProbedVideo, clip: ClipConfig, decode: DecodeConfig, pick: Picker) -> None:
        self.video, self.clip, self.decode, self.pick = video, clip, decode, pick
        self.report = DecodeReport()
        self.clips = 0

    def __iter__(self) -> Iterator[tuple[Span, list[np.ndarray]]]:
        try:
            with storage.open_local(self.video.uri) as path:
                for span, rows in decode_clips(path, self.video.probe, self.clip, self.decode, self.pick,
                                               self.report):
                    self.clips += 1
                    yield span, rows
        except OSError as e:
            self.report.error = f"{type(e).__name__}: {e}"

    @property
    def rejected(self) -> Rejected | None:
        if self.clips:
            return None
        detail = (self.report.error or self.report.fallback_reason
                  or f"no clip of at least {self.clip.min_clip_len_s} s")
        return Rejected("decode", rejects.UNDECODABLE, detail, video_id=self.video.video_id)

    def seconds(self, span: Span) -> tuple[float, float]:
        """Start and end of a span in seconds."""
        fps = float(self.video.probe.fps)
        return span.start_frame / fps, span.end_frame / fps


def open_video(uri: str, clean: CleanConfig, clip: ClipConfig, decode: DecodeConfig,
               pick: Picker) -> VideoDecode | Rejected:
    """The whole path for one URI: probe and gate it, then hand back its clips to iterate (or the reject)."""
    probed = probe_video(uri, clean)
    return probed if isinstance(probed, Rejected) else VideoDecode(probed, clip, decode, pick)
