"""Decode a video once, front to back, and hand each clip the frames it samples.

decord reads sequentially and skips unneeded frames without colour conversion; random access (seek per clip)
measured about 8x slower per frame on h264 because every seek restarts at a keyframe. Frames are resized inside
the decoder (short side to the target box) and centre-cropped here. Where decord cannot open a file that PyAV
can partly decode (a truncated mp4, say), PyAV takes over and the clips it can complete are kept.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from sora_model.video.clips import ClipConfig, Picker, Span, WindowFrames, fixed_spans
from sora_model.video.frames import center_crop, resize_dims
from sora_model.video.probe import ProbeResult
from sora_model.video.shots import CutDetector, ShotWindows

logger = logging.getLogger(__name__)



@dataclass(frozen=True, kw_only=True)
class DecodeConfig:
    frames_per_clip: int = 8
    """Frames sampled uniformly inside each clip."""
    height_px: int = 64
    """Output frame height after short-side resize and centre crop."""
    width_px: int = 64
    """Output frame width after short-side resize and centre crop."""
    decoder_threads: int = 1
    """Decoder threads per video. 1 fits Spark's one-task-per-core model; raise it for few, large videos."""
    pyav_fallback: bool = True
    """Retry with PyAV when decord cannot open a file or decodes no clip from it."""
    isolate: bool = True
    """Decode in a child process of each Spark worker (reused across videos), so a decoder crash, hang or
    runaway allocation rejects that video (decoder_crash, decode_timeout, decode_oom) instead of failing the job."""
    video_timeout_s: float = 900.0
    """isolate: wall time one video may take to decode before it is rejected as decode_timeout."""
    video_max_memory_mb: int = 2048
    """isolate: how much the decoding process's resident memory may grow while decoding one video before it is
    rejected as decode_oom (Linux; elsewhere only the time cap holds)."""

    def __post_init__(self) -> None:
        if self.frames_per_clip < 1:
            raise ValueError(f"frames_per_clip must be >= 1, got {self.frames_per_clip}")
        if self.height_px < 8 or self.width_px < 8:
            raise ValueError(f"height_px and width_px must be >= 8, got {self.height_px}x{self.width_px}")
        if self.video_timeout_s <= 0 or self.video_max_memory_mb < 1:
            raise ValueError(f"video_timeout_s must be > 0 and video_max_memory_mb >= 1, got "
                             f"{self.video_timeout_s} and {self.video_max_memory_mb}")
        if self.decoder_threads < 0:
            raise ValueError(f"decoder_threads must be >= 0 (0 = decoder's choice), got {self.decoder_threads}")

    @property
    def frames_shape(self) -> tuple[int, int, int, int]:
        """[T, H, W, C] of every decoded clip: the shard schema, the datasets table, models and scoring ask this."""
        return (self.frames_per_clip, self.height_px, self.width_px, 3)

    def with_frames_shape(self, frames_shape: list[int] | tuple[int, ...]) -> DecodeConfig:
        """These decoder settings, producing clips of ``frames_shape`` ([T, H, W, 3], e.g. what a model takes)."""
        t, h, w, c = (int(x) for x in frames_shape)
        if c != 3:
            raise ValueError(f"frames_shape must be [T, H, W, 3], got {list(frames_shape)}")
        return dataclasses.replace(self, frames_per_clip=t, height_px=h, width_px=w)


@dataclass
class DecodeReport:
    """What happened while decoding one video (filled in as clips are yielded)."""

    decoder: str = ""
    frame_count: int = 0
    """Frames in the video as the decoder saw them (decoded frames for PyAV, which has no index)."""
    frames_read: int = 0
    """Frames the decoder went through (skipped frames included)."""
    clips_planned: int = 0
    clips_decoded: int = 0
    cuts: list[int] = field(default_factory=list)
    fallback_reason: str = ""
    """Why PyAV replaced decord, empty when it did not."""
    error: str = ""
    """Decoder error that ended the video early, empty when it ended normally."""


class _DecordSource:
    name = "decord"

    def __init__(self, path: str, width_px: int, height_px: int, threads: int) -> None:
        import decord

        self._err = (decord.DECORDError, RuntimeError)
        # decord 0.6.0 returns a garbled (H, W, 4) array for some output widths (72 px, for one); a wider
        # output is cropped away later, so try one or two more pixels before giving up.
        for width in (width_px, width_px + 1, width_px + 2):
            self.vr = decord.VideoReader(path, ctx=decord.cpu(0), width=width, height=height_px,
                                         num_threads=threads)
            first = self.vr.next().asnumpy() if len(self.vr) else None
            self.vr.seek(0)
            if first is None or first.shape == (height_px, width, 3):
                break
        else:
            raise ValueError(f"decord returns frames of shape {first.shape} for {width_px}x{height_px} output")
        self.frame_count: int | None = len(self.vr)
        self.error = ""

    def frames(self, indices: list[int] | None) -> Iterator[tuple[int, np.ndarray]]:
        wanted = range(self.frame_count) if indices is None else indices
        cur = 0
        try:
            for idx in wanted:
                if idx >= self.frame_count:
                    return
                if idx > cur:
                    self.vr.skip_frames(idx - cur)
                frame = self.vr.next().asnumpy()
                cur = idx + 1
                yield idx, frame
        except StopIteration:
            return
        except self._err as e:
            self.error = f"decord stopped at frame {cur}: {str(e).splitlines()[0][:300]}"


class _PyAVSource:
    name = "pyav"

    def __init__(self, path: str, width_px: int, height_px: int, threads: int) -> None:
        import av

        self._av = av
        self.container = av.open(path)
        if not self.container.streams.video:
            self.container.close()
            raise ValueError("no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.codec_context.thread_count = threads
        self.size = (width_px, height_px)
        self.frame_count: int | None = None
        self.error = ""

    def frames(self, indices: list[int] | None) -> Iterator[tuple[int, np.ndarray]]:
        wanted = None if indices is None else set(indices)
        last = None if indices is None else (max(indices) if indices else -1)
        i = -1
        try:
            for frame in self.container.decode(self.stream):
                i += 1
                if last is not None and i > last:
                    return
                if wanted is None or i in wanted:
                    yield i, frame.to_ndarray(format="rgb24", width=self.size[0], height=self.size[1])
        except (self._av.FFmpegError, ValueError, OSError) as e:
            self.error = f"pyav stopped after frame {i}: {e}"
        finally:
            self.frame_count = i + 1
            self.container.close()


def decode_clips(path: str, probe: ProbeResult, clip_cfg: ClipConfig, cfg: DecodeConfig, pick: Picker,
                 report: DecodeReport) -> Iterator[tuple[Span, list[np.ndarray]]]:
    """Yield ``(span, rows)`` per clip, rows being ``uint8 [T, height_px, width_px, 3]`` arrays from ``pick``.

    Never raises for a bad file: problems end up in ``report`` (``clips_decoded == 0`` means nothing usable).
    """
    width_px, height_px = resize_dims(probe.width_px, probe.height_px, cfg.width_px, cfg.height_px)
    sources: list[type] = [_DecordSource] + ([_PyAVSource] if cfg.pyav_fallback else [])
    for kind in sources:
        try:
            source = kind(path, width_px, height_px, cfg.decoder_threads)
        except Exception as e:  # noqa: BLE001 - any failure to open is a property of the file
            msg = f"{kind.name} could not open: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
            report.fallback_reason = msg if not report.fallback_reason else report.fallback_reason
            report.error = msg
            continue
        report.decoder, report.error = source.name, ""
        report.clips_planned = report.clips_decoded = report.frames_read = 0
        if clip_cfg.mode == "fixed":
            yield from _fixed(source, probe, clip_cfg, cfg, pick, report)
        else:
            yield from _shots(source, probe, clip_cfg, cfg, pick, report)
        report.error = source.error
        if report.clips_decoded > 0:
            return
        if kind is _DecordSource and not report.fallback_reason:
            report.fallback_reason = f"decord decoded no clip ({source.error or 'too few frames'})"


def _crop(frame: np.ndarray, cfg: DecodeConfig) -> np.ndarray:
    out = center_crop(frame, cfg.height_px, cfg.width_px)
    if out.shape != (cfg.height_px, cfg.width_px, 3):
        # A decoder handing out the wrong layout is a bug to stop on, not data to write.
        raise RuntimeError(f"decoder returned a frame of shape {frame.shape}, cropped to {out.shape}")
    return out


def _fixed(source: _DecordSource | _PyAVSource, probe: ProbeResult, clip_cfg: ClipConfig, cfg: DecodeConfig,
           pick: Picker, report: DecodeReport) -> Iterator[tuple[Span, list[np.ndarray]]]:
    frame_count = source.frame_count or probe.frame_count
    spans = fixed_spans(frame_count, probe.fps, clip_cfg)
    report.clips_planned = len(spans)
    picks = [pick(span) for span in spans]
    needed = {int(i) for rows in picks for idx in rows for i in idx}
    last_needed = [max(int(idx.max()) for idx in rows) for rows in picks]
    if source.frame_count is None:
        # No index (PyAV): the file may end early, so a clip counts only once its last frame was decoded.
        needed |= {span.end_frame - 1 for span in spans}
        last_needed = [max(last, span.end_frame - 1) for last, span in zip(last_needed, spans)]
    needed = sorted(needed)
    # Overlapping, jittered spans: a later span may need an earlier frame than the next one to finish.
    keep_from = [min(int(idx.min()) for idx in rows) for rows in picks] + [frame_count]
    for k in range(len(spans) - 1, -1, -1):
        keep_from[k] = min(keep_from[k], keep_from[k + 1])
    bank: dict[int, np.ndarray] = {}
    pending = 0  # spans before this one have been emitted
    for idx, frame in source.frames(needed):
        bank[idx] = _crop(frame, cfg)
        report.frames_read = idx + 1
        # Spans are in start order and end order, so they complete in order.
        while pending < len(spans) and last_needed[pending] <= idx:
            rows = [np.stack([bank[int(i)] for i in sel]) for sel in picks[pending]]
            report.clips_decoded += 1
            yield spans[pending], rows
            pending += 1
        for j in [j for j in bank if j < keep_from[pending]]:
            del bank[j]
    report.frame_count = source.frame_count or 0


def _shots(source: _DecordSource | _PyAVSource, probe: ProbeResult, clip_cfg: ClipConfig, cfg: DecodeConfig,
           pick: Picker, report: DecodeReport) -> Iterator[tuple[Span, list[np.ndarray]]]:
    win = WindowFrames.of(probe.fps, clip_cfg)
    detector = CutDetector(clip_cfg.cut_threshold, round(clip_cfg.cut_min_shot_s * probe.fps))
    windows = ShotWindows(win, pick)
    for idx, frame in source.frames(None):
        frame = _crop(frame, cfg)  # a view; np.stack copies the sampled frames out
        for span, rows in windows.push(frame, detector.push(frame)):
            report.clips_planned += 1
            report.clips_decoded += 1
            yield span, rows
    report.frames_read = windows.frames_seen
    for span, rows in windows.finish():
        report.clips_planned += 1
        report.clips_decoded += 1
        yield span, rows
    report.cuts = list(windows.cuts)
    report.frame_count = source.frame_count or report.frames_read
