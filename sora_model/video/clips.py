"""Clip spans: fixed windows over a video, or fixed windows inside each shot so that no clip spans a cut."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

ClipMode = Literal["fixed", "shots"]
MODES: tuple[str, ...] = get_args(ClipMode)
CutDetectorName = Literal["sora", "pyscenedetect_content", "pyscenedetect_adaptive", "transnetv2"]
CUT_DETECTORS: tuple[str, ...] = get_args(CutDetectorName)


@dataclass(frozen=True, kw_only=True)
class ClipConfig:
    mode: ClipMode = "fixed"
    """'fixed': windows over the whole video; 'shots': windows inside each detected shot (no clip spans a cut)."""
    clip_len_s: float = 2.0
    """Length of each clip in seconds."""
    stride_s: float = 2.0
    """Start-to-start distance of clips in seconds; equal to clip_len_s means no overlap."""
    min_clip_len_s: float = 1.0
    """A window cut short by the end of the video (or by a cut) is kept only if at least this long."""
    cut_detector: CutDetectorName = "sora"
    """shots mode: what finds the shot boundaries. 'sora': this project's detector (a small network over frame
    distances, fit on real footage; see docs/benchmarks.md, shot boundaries, for its figures on held-out footage);
    'pyscenedetect_content' / 'pyscenedetect_adaptive': PySceneDetect's ContentDetector / AdaptiveDetector with
    their default thresholds; 'transnetv2': the TransNetV2 network (the most accurate; about 0.04x decode speed
    on a CPU core, so for executors with a GPU, which it then uses). The last three need `pip install -r
    requirements-detectors.txt` on the driver and every executor."""
    cut_threshold: float | None = None
    """shots mode, cut_detector 'sora': a frame starts a new shot when the detector's probability of a boundary
    there is above this and highest within about a third of a second. Empty: the threshold chosen with the
    network on the tuning footage (``cut_model.json``). Lower finds more dissolves and more false cuts."""
    cut_min_shot_s: float = 0.5
    """shots mode (every detector): cuts closer than this to the previous cut (or the 'sora' detector: to the
    video's start) are ignored."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.clip_len_s <= 0:
            raise ValueError(f"clip_len_s must be > 0, got {self.clip_len_s}")
        if self.stride_s <= 0:
            raise ValueError(f"stride_s must be > 0, got {self.stride_s}")
        if not (0 < self.min_clip_len_s <= self.clip_len_s):
            raise ValueError(f"min_clip_len_s must be in (0, clip_len_s], got {self.min_clip_len_s}")
        if self.cut_detector not in CUT_DETECTORS:
            raise ValueError(f"cut_detector must be one of {CUT_DETECTORS}, got {self.cut_detector!r}")
        if self.cut_threshold is not None and not (0 < self.cut_threshold < 1):
            raise ValueError(f"cut_threshold must be in (0, 1) or empty, got {self.cut_threshold}")
        if self.cut_min_shot_s < 0:
            raise ValueError(f"cut_min_shot_s must be >= 0, got {self.cut_min_shot_s}")


@dataclass(frozen=True, order=True)
class Span:
    start_frame: int
    end_frame: int
    """Exclusive."""

    @property
    def length(self) -> int:
        return self.end_frame - self.start_frame


Picker = Callable[[Span], list[np.ndarray]]
"""pick(span) -> one array of frame indices (inside the span) per output row of that clip."""


@dataclass(frozen=True)
class WindowFrames:
    """Clip window geometry in frames for one video's frame rate."""

    length: int
    stride: int
    min_length: int

    @classmethod
    def of(cls, fps: float, cfg: ClipConfig) -> WindowFrames:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        length = max(1, round(cfg.clip_len_s * fps))
        return cls(length=length, stride=max(1, round(cfg.stride_s * fps)),
                   min_length=min(length, max(1, math.ceil(cfg.min_clip_len_s * fps - 1e-9))))


def window_spans(start: int, end: int, win: WindowFrames) -> list[Span]:
    """Windows over frames ``[start, end)``; the last ones are cut short at ``end`` and kept if long enough."""
    spans = []
    for s in range(start, end, win.stride):
        e = min(s + win.length, end)
        if e - s >= win.min_length:
            spans.append(Span(s, e))
    return spans


def fixed_spans(frame_count: int, fps: float, cfg: ClipConfig) -> list[Span]:
    return window_spans(0, frame_count, WindowFrames.of(fps, cfg))


def shot_spans(frame_count: int, fps: float, cuts: list[int], cfg: ClipConfig) -> list[Span]:
    """Windows inside each shot; ``cuts`` are the first frames of every shot but the first."""
    win = WindowFrames.of(fps, cfg)
    bounds = [0, *sorted(c for c in cuts if 0 < c < frame_count), frame_count]
    return [span for a, b in zip(bounds, bounds[1:]) for span in window_spans(a, b, win)]


def sample_indices(span: Span, count: int) -> np.ndarray:
    """``count`` frame indices spread uniformly over the span (bin centres); repeats when the span is shorter."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    pos = span.start_frame + (np.arange(count) + 0.5) * span.length / count
    return np.minimum(pos.astype(np.int64), span.end_frame - 1)


@dataclass(frozen=True)
class UniformRows:
    """A picker handing out one row per clip: ``count`` frames sampled uniformly (no augmented copies). A plain
    object, not a closure, so it travels to the decoding process."""

    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be >= 1, got {self.count}")

    def __call__(self, span: Span) -> list[np.ndarray]:
        return [sample_indices(span, self.count)]


def uniform_rows(count: int) -> Picker:
    """A picker handing out one row per clip: ``count`` frames sampled uniformly (no augmented copies)."""
    return UniformRows(count)
