"""Container-level facts about a video file, read with PyAV without decoding pictures."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields

from sora_model.video import rejects
from sora_model.video.rejects import Rejected
from sora_model.video.sniff import IMAGE_DEMUXERS, sniff_file

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ProbeConfig:
    isolate: bool = True
    """Hash, probe and sign each file in the child process each Spark worker decodes in (reused across files),
    so a hang, a crash or a runaway allocation rejects that file (probe_timeout, probe_crash, probe_oom) instead
    of failing the task or holding it forever."""
    timeout_s: float = 300.0
    """isolate: wall time one file may take to hash, probe and sign (every frame is decoded for the signature)."""
    max_memory_mb: int = 1024
    """isolate: how much the probing process's resident memory may grow for one file."""

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.max_memory_mb < 1:
            raise ValueError(f"timeout_s must be > 0 and max_memory_mb >= 1, got {self.timeout_s} and "
                             f"{self.max_memory_mb}")


@dataclass(frozen=True)
class ProbeResult:
    container: str
    """Demuxer name(s) as FFmpeg reports them, e.g. 'mov,mp4,m4a,3gp,3g2,mj2'."""
    codec: str
    """Video codec name, e.g. 'h264'."""
    width_px: int
    height_px: int
    fps: float
    """Average frame rate of the video stream."""
    duration_s: float
    frame_count: int
    """From the container index when present, else duration x fps."""
    rotation_deg: int = 0
    """Counter-clockwise turn that shows the video upright (phone videos: 90 or 270), from its first frame."""


PROBE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ProbeResult))
"""The probe facts, in the order the videos table and the executors' records carry them."""


def _duration_s(container, stream) -> float:  # noqa: ANN001 - PyAV objects
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        import av

        return container.duration / av.time_base
    return 0.0


def _rotation_deg(container, stream) -> int:  # noqa: ANN001 - PyAV objects
    # FFmpeg attaches the display matrix to decoded frames; the first one that decodes tells. A file whose
    # frames do not decode here is left to the decode stage to judge.
    import av

    try:
        for frame in container.decode(stream):
            return int(round(frame.rotation or 0)) % 360
    except (av.FFmpegError, ValueError, OSError):
        pass
    return 0


def probe_file(path: str) -> ProbeResult | Rejected:
    """Probe one local file. Every failure the file can cause is a ``Rejected``, never an exception."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        return Rejected("probe", rejects.IO_ERROR, str(e))
    if size == 0:
        return Rejected("probe", rejects.EMPTY_FILE, "file has 0 bytes")
    try:
        sniffed = sniff_file(path)
    except OSError as e:
        return Rejected("probe", rejects.IO_ERROR, f"{type(e).__name__}: {e}")
    if sniffed.not_video:
        return Rejected("probe", rejects.NOT_VIDEO, f"content is {sniffed.mime}")

    import av

    try:
        with av.open(path, mode="r") as container:
            if str(container.format.name) in IMAGE_DEMUXERS:
                return Rejected("probe", rejects.NOT_VIDEO, f"content is a still image ({container.format.name})")
            videos = container.streams.video
            if not videos:
                kinds = sorted({s.type for s in container.streams}) or ["none"]
                return Rejected("probe", rejects.NO_VIDEO_STREAM, f"streams: {', '.join(kinds)}")
            stream = videos[0]
            ctx = stream.codec_context
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            duration_s = _duration_s(container, stream)
            frame_count = int(stream.frames or 0) or int(round(duration_s * fps))
            rotation_deg = _rotation_deg(container, stream)
            return ProbeResult(
                container=str(container.format.name),
                codec=str(ctx.name),
                width_px=int(ctx.width or 0),
                height_px=int(ctx.height or 0),
                fps=fps,
                duration_s=duration_s,
                frame_count=frame_count,
                rotation_deg=rotation_deg,
            )
    except (av.FFmpegError, UnicodeDecodeError, ValueError, IndexError, ZeroDivisionError) as e:
        if sniffed.video:
            return Rejected("probe", rejects.UNREADABLE, f"{sniffed.mime} signature, but {type(e).__name__}: {e}")
        return Rejected("probe", rejects.NOT_VIDEO, f"content is {sniffed.mime}: no demuxer recognised it "
                        f"({type(e).__name__}: {e})")
    except OSError as e:
        return Rejected("probe", rejects.IO_ERROR, f"{type(e).__name__}: {e}")
