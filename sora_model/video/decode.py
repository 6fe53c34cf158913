"""Decode a video once, front to back, and hand each clip the frames it samples.

The primary decoder (``decode.backend``: decord, or torchcodec) reads sequentially; random access (seek per clip)
measured about 8x slower per frame on h264 because every seek restarts at a keyframe. Every frame is decoded and
placed on a constant-rate timeline by its timestamp, and clip windows are cut from that timeline as it fills, so
clips cover what really decodes, whatever the container's header claims. Frames are resized inside the decoder
(short side to the target box), turned upright by the container's rotation and centre-cropped here. Where the
primary decoder cannot open a file, stops early or falls short of the container's duration, PyAV decodes it too
and the decoder with more clips is kept.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from sora_model.video.clips import ClipConfig, Picker, Span, WindowFrames, fixed_spans
from sora_model.video.frames import center_crop, resize_dims
from sora_model.video.probe import ProbeResult
from sora_model.video.shot_windows import ShotWindows
from sora_model.video.shots import detector_for

logger = logging.getLogger(__name__)

Backend = Literal["decord", "torchcodec"]
BACKENDS: tuple[str, ...] = get_args(Backend)


@dataclass(frozen=True, kw_only=True)
class DecodeConfig:
    frames_per_clip: int = 8
    """Frames sampled uniformly inside each clip."""
    height_px: int = 64
    """Output frame height after short-side resize and centre crop."""
    width_px: int = 64
    """Output frame width after short-side resize and centre crop."""
    backend: Backend = "decord"
    """The primary decoder. 'decord' (the default); 'torchcodec': PyTorch's decoder on FFmpeg's shared libraries,
    which needs requirements-torchcodec.txt and FFmpeg 4-8's libraries (the system's, or PyAV's own through
    `python -m sora_model.video.ffmpeg_libs`) on the driver and every executor. Both resize in the decoder and
    turn the picture upright, with the same clips; PyAV stays the fallback for either."""
    decoder_threads: int = 1
    """Decoder threads per video. 1 fits Spark's one-task-per-core model; raise it for few, large videos."""
    pyav_fallback: bool = True
    """Retry with PyAV when the primary decoder cannot open a file or decodes no clip from it."""
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
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")

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
    """What happened while decoding one video."""

    decoder: str = ""
    """The decoder whose clips were kept."""
    frame_count: int = 0
    """Frames the kept decoder decoded."""
    frames_read: int = 0
    """Frames on the video's constant-rate timeline (decoded frames placed by their timestamps)."""
    clips_planned: int = 0
    """fixed mode: windows the container's frame count promised; shots mode: the clips decoded."""
    clips_decoded: int = 0
    cuts: list[int] = field(default_factory=list)
    fallback_reason: str = ""
    """Why the primary decoder's clips were not kept, empty when they were."""
    error: str = ""
    """Decoder error that ended the kept decoder early, empty when it ended normally."""
    attempts: list[str] = field(default_factory=list)
    """What every decoder tried got, one line each (the detail of an undecodable reject)."""


def _upright_size(width_px: int, height_px: int, quarters: int) -> tuple[int, int]:
    """The output size to ask of a decoder that turns the picture upright before scaling (decord, torchcodec)."""
    return (height_px, width_px) if quarters % 2 else (width_px, height_px)


class _DecordSource:
    name = "decord"

    def __init__(self, path: str, width_px: int, height_px: int, quarters: int, threads: int) -> None:
        import decord

        width_px, height_px = _upright_size(width_px, height_px, quarters)  # decord turns the picture upright
        self.quarters = 0
        self._err = (decord.DECORDError, RuntimeError)
        # decord 0.6.0 returns a garbled (H, W, 4) array for some output widths (72 px, for one); a wider
        # output is cropped away later, so try one or two more pixels before giving up.
        for width in (width_px, width_px + 1, width_px + 2):
            self.vr = decord.VideoReader(path, ctx=decord.cpu(0), width=width, height=height_px,
                                         num_threads=threads)
            # Kept as the first frame frames() yields: seeking back to it cost a restart of the decoder per video.
            self.first = self.vr.next().asnumpy() if len(self.vr) else None
            if self.first is None or self.first.shape == (height_px, width, 3):
                break
        else:
            raise ValueError(f"decord returns frames of shape {self.first.shape} for {width_px}x{height_px} output")
        self.frame_count = len(self.vr)
        try:  # presentation times from the index: variable frame rates are placed by them
            self.pts: np.ndarray | None = self.vr.get_frame_timestamp(np.arange(self.frame_count))[:, 0]
        except self._err:
            self.pts = None
        self.error = ""

    def frames(self) -> Iterator[tuple[float | None, np.ndarray]]:
        i, frame = 0, self.first
        try:
            for i in range(self.frame_count):
                if i:
                    frame = self.vr.next().asnumpy()
                yield (float(self.pts[i]) if self.pts is not None else None), frame
        except StopIteration:
            return
        except self._err as e:
            self.error = f"stopped at frame {i}: {str(e).splitlines()[0][:300]}"


class _TorchCodecSource:
    name = "torchcodec"

    def __init__(self, path: str, width_px: int, height_px: int, quarters: int, threads: int) -> None:
        from torchcodec.decoders import VideoDecoder
        from torchcodec.transforms import Resize

        width_px, height_px = _upright_size(width_px, height_px, quarters)  # so does torchcodec
        self.quarters = 0
        # "exact" indexes every packet on open (no decoding): frame i is the i-th frame that is there, with its
        # own timestamp, whatever the header's frame count and rate claim.
        self.decoder = VideoDecoder(path, seek_mode="exact", num_ffmpeg_threads=threads, dimension_order="NHWC",
                                    transforms=[Resize((height_px, width_px))])
        self.error = ""

    def frames(self) -> Iterator[tuple[float | None, np.ndarray]]:
        i = 0
        try:
            for i in range(len(self.decoder)):  # in order: torchcodec decodes on without seeking
                frame = self.decoder.get_frame_at(i)
                yield frame.pts_seconds, frame.data.numpy()
        except (RuntimeError, ValueError, IndexError) as e:
            self.error = f"stopped at frame {i}: {str(e).splitlines()[0][:300] if str(e) else type(e).__name__}"


_PRIMARY: dict[str, type] = {"decord": _DecordSource, "torchcodec": _TorchCodecSource}


def require(backend: str) -> None:
    """Raise ImportError, saying what to install, when ``backend`` cannot decode in this process; load it so the
    first video is not charged for it."""
    if backend != "torchcodec":
        return
    try:
        import torchcodec
        from torchcodec.decoders import VideoDecoder  # noqa: F401

        # torchcodec imports without FFmpeg (it loads its libraries on import and keeps going when none load);
        # every file would then fail to open and quietly go to PyAV.
        if torchcodec.ffmpeg_major_version is None:
            raise RuntimeError("it found no FFmpeg 4-8 shared libraries it could load")
    except (ImportError, RuntimeError, OSError) as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ImportError(
            f"decode.backend='torchcodec' cannot load in this Python ({sys.executable}): {first}. It needs "
            f"`pip install -r requirements-torchcodec.txt` and FFmpeg 4-8 shared libraries (Debian 12: apt-get install "
            f"libavcodec59 libavformat59 libavfilter8 libavdevice59 libswscale6; or PyAV's own: `python -m "
            f"sora_model.video.ffmpeg_libs DIR`, then LD_LIBRARY_PATH=DIR) on the driver and every executor, or use "
            f"decode.backend='decord'") from e


def prepare(cfg: DecodeConfig) -> Iterator[None]:
    """Load the primary decoder in this process (a generator function, to run in the decoding process)."""
    require(cfg.backend)
    yield from ()


class _PyAVSource:
    name = "pyav"

    def __init__(self, path: str, width_px: int, height_px: int, quarters: int, threads: int) -> None:
        import av

        self._av = av
        self.quarters = quarters  # PyAV scales the stored picture; it is turned upright afterwards
        self.container = av.open(path)
        if not self.container.streams.video:
            self.container.close()
            raise ValueError("no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.codec_context.thread_count = threads
        self.size = (width_px, height_px)
        self.error = ""

    def frames(self) -> Iterator[tuple[float | None, np.ndarray]]:
        i = -1
        try:
            for frame in self.container.decode(self.stream):
                i += 1
                yield frame.time, frame.to_ndarray(format="rgb24", width=self.size[0], height=self.size[1])
        except (self._av.FFmpegError, ValueError, OSError) as e:
            self.error = f"stopped after frame {i}: {e}"
        finally:
            self.container.close()


class ConstantRate:
    """Places decoded frames on a constant-rate timeline by their timestamps: a frame is held over the slots
    until the next one (variable frame rate, dropped frames), frames closer than a slot to the previous one are
    dropped. Without timestamps, or for a constant-rate video, slot i is frame i."""

    MAX_HOLD_S = 10.0
    """A timestamp jump longer than this is a discontinuity (broken timestamps), not a frame held for so long."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._t0: float | None = None
        self._next = 0
        self._prev: np.ndarray | None = None

    def push(self, pts_s: float | None, frame: np.ndarray) -> list[np.ndarray]:
        """The frames of the slots this frame settles (zero or more, in slot order)."""
        if pts_s is None:
            slot = self._next
        else:
            if self._t0 is None:
                self._t0 = pts_s
            slot = round((pts_s - self._t0) * self.fps)
            if slot - self._next > self.MAX_HOLD_S * self.fps:  # restart the timeline after a jump
                self._t0 = pts_s - self._next / self.fps
                slot = self._next
        if slot < self._next:
            return []
        out = [self._prev] * (slot - self._next) if self._prev is not None else []
        out.append(frame)
        self._prev, self._next = frame, slot + 1
        return out


@dataclass
class _Attempt:
    source: str
    clips: list[tuple[Span, list[np.ndarray]]]
    frames: int
    slots: int
    cuts: list[int]
    error: str

    def line(self, probe: ProbeResult) -> str:
        covered = self.slots / probe.fps if probe.fps > 0 else 0.0
        text = (f"{self.source}: {self.frames} frames ({covered:.1f} s of the {probe.duration_s:.1f} s the "
                f"container gives), {len(self.clips)} clips")
        return text + (f"; {self.error}" if self.error else "")

    def complete(self, probe: ProbeResult) -> bool:
        # Within a second (or a tenth) of the container's duration: no other decoder would find more.
        short_s = probe.duration_s - self.slots / probe.fps
        return bool(self.clips) and not self.error and short_s <= max(1.0, 0.1 * probe.duration_s)


def output_geometry(probe: ProbeResult, cfg: DecodeConfig) -> tuple[int, int, int]:
    """(width, height, quarter turns) to scale the stored picture to, so that once turned upright by
    ``np.rot90(frame, k)`` its short side fits the output box."""
    quarters = (probe.rotation_deg // 90) % 4
    upright = (probe.height_px, probe.width_px) if quarters % 2 else (probe.width_px, probe.height_px)
    width_px, height_px = resize_dims(*upright, cfg.width_px, cfg.height_px)
    return (height_px, width_px, quarters) if quarters % 2 else (width_px, height_px, quarters)


def decode_clips(path: str, probe: ProbeResult, clip_cfg: ClipConfig, cfg: DecodeConfig, pick: Picker,
                 report: DecodeReport) -> Iterator[tuple[Span, list[np.ndarray]]]:
    """Yield ``(span, rows)`` per clip, rows being ``uint8 [T, height_px, width_px, 3]`` arrays from ``pick``.

    Clips are planned over the frames that really decode, placed on the video's timeline by their timestamps
    (never over the container's frame count), and turned upright by the rotation the container records. When
    the primary decoder stops early or falls short of the container's duration, PyAV decodes the file too and the
    decoder with more clips is kept. Never raises for a bad file: problems end up in ``report``
    (``clips_decoded == 0`` means nothing usable, ``report.attempts`` says what each decoder got).
    """
    require(cfg.backend)  # a backend that cannot load is a setup error to stop on, not a file to fall back on
    width_px, height_px, quarters = output_geometry(probe, cfg)
    sources: list[type] = [_PRIMARY[cfg.backend]] + ([_PyAVSource] if cfg.pyav_fallback else [])
    best: _Attempt | None = None
    for kind in sources:
        try:
            source = kind(path, width_px, height_px, quarters, cfg.decoder_threads)
        except Exception as e:  # noqa: BLE001 - any failure to open is a property of the file
            # decord's messages start with the time of day ("[11:34:51] /src/...": dropped, so a rerun writes
            # the same row)
            detail = re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", str(e).splitlines()[0])[:300] if str(e) else ""
            report.attempts.append(f"{kind.name}: could not open: {type(e).__name__}: {detail}")
            continue
        attempt = _decode(source, probe, clip_cfg, cfg, pick)
        report.attempts.append(attempt.line(probe))
        if best is None or len(attempt.clips) > len(best.clips):
            best = attempt
        if attempt.complete(probe):
            break
    if best is None or not best.clips:
        report.error = "; ".join(report.attempts)
        return
    report.decoder, report.frame_count, report.frames_read = best.source, best.frames, best.slots
    report.cuts, report.error = best.cuts, best.error
    report.clips_decoded = len(best.clips)
    report.clips_planned = (len(fixed_spans(probe.frame_count, probe.fps, clip_cfg)) if clip_cfg.mode == "fixed"
                            else len(best.clips))
    if best.source != sources[0].name:
        report.fallback_reason = report.attempts[0]
    yield from best.clips


def _crop(frame: np.ndarray, cfg: DecodeConfig, quarters: int) -> np.ndarray:
    out = center_crop(np.rot90(frame, quarters) if quarters else frame, cfg.height_px, cfg.width_px)
    if out.shape != (cfg.height_px, cfg.width_px, 3):
        # A decoder handing out the wrong layout is a bug to stop on, not data to write.
        raise RuntimeError(f"decoder returned a frame of shape {frame.shape}, cropped to {out.shape}")
    return out


def _decode(source: _DecordSource | _TorchCodecSource | _PyAVSource, probe: ProbeResult, clip_cfg: ClipConfig,
            cfg: DecodeConfig, pick: Picker) -> _Attempt:
    """One decoder over the whole file: every frame on the timeline, windows (inside shots) as they fill."""
    windows = ShotWindows(WindowFrames.of(probe.fps, clip_cfg), pick)
    detector = detector_for(clip_cfg, probe.fps) if clip_cfg.mode == "shots" else None
    timeline = ConstantRate(probe.fps)
    clips: list[tuple[Span, list[np.ndarray]]] = []
    frames = 0
    for pts_s, frame in source.frames():
        frames += 1
        for upright in timeline.push(pts_s, _crop(frame, cfg, source.quarters)):
            if detector is None:
                clips.extend(windows.push(upright, False))
            else:
                for settled, is_cut in detector.push(upright):
                    clips.extend(windows.push(settled, is_cut))
    if detector is not None:
        for settled, is_cut in detector.finish():
            clips.extend(windows.push(settled, is_cut))
    clips.extend(windows.finish())
    return _Attempt(source.name, clips, frames, windows.frames_seen, list(windows.cuts), source.error)
