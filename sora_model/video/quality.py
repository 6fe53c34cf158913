"""Pixel quality of a clip, measured on the frames the decoder already handed over (no extra decode pass):
sharpness, black or blank frames, motion and letterbox bars. Scores become columns of ``clips``; a clip past a
threshold is recorded with its reason and left out of the shards, never dropped silently."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sora_model.video.frames import cell_means

# Reason codes of a filtered clip (the `filter_reason` column of clips).
BLURRY = "blurry"
BLANK = "blank"
FROZEN = "frozen"
LETTERBOXED = "letterboxed"
FILTER_REASONS = (BLANK, FROZEN, BLURRY, LETTERBOXED)
"""In the order they are checked: the first that applies is the clip's reason."""

_DARK = 20.0      # luma (0-255) below which a bar row or column counts as black
_BAR_FLAT = 3.0   # ... and flatter than this (standard deviation along it): dark content has texture
_FLAT_STD = 1.0   # a frame whose luma varies less than this is one flat colour (blank), however bright or dark


@dataclass(frozen=True, kw_only=True)
class QualityConfig:
    min_sharpness: float = 0.03
    """A clip is filtered as blurry when its sharpness (median frame's variance of the Laplacian of luma over its
    luma variance) is below this, or its detail ratio is below ``min_detail_ratio``. On the tuning half of the
    evaluation footage (docs/benchmarks.md, quality filters), at 64 px clean clips measure 0.073 and up, footage box-blurred by
    1/12 of its width 0.002-0.018; at 32 px the two overlap and the detail ratio separates them. 0 turns the check
    off."""
    min_detail_ratio: float = 0.2
    """See ``min_sharpness``: the median frame's variance of the Laplacian at the output size over that at half
    the size (blur removes fine detail far more than coarse). Tuning half at 32 px: clean 0.23 and up, blurred
    0.12-0.16. 0 turns the check off."""
    max_blank_frac: float = 0.5
    """A clip with a larger share of one-colour frames (black, white or any flat colour) is filtered as blank.
    A dark frame with something in it is not blank: night footage is kept."""
    min_motion: float = 0.012
    """A clip whose consecutive sampled frames change by less than this share of their contrast is filtered as
    frozen (``ClipQuality.motion``: the change in the most-changed eighth of the picture, so a small object
    moving in a still scene counts, relative to contrast, so dark footage moves as much as bright). Tuning half
    of the evaluation footage, at 32 and 64 px: a held picture (h264) at most 0.009, the stillest clean clip
    0.045; set near the held pictures' end, so that slow motion is kept. 0 turns the check off."""
    max_letterbox_frac: float = 0.3
    """A clip with black bars (top and bottom, or left and right, dark in every sampled frame) over a larger
    share of the picture is filtered as letterboxed. 1 turns the check off."""

    def __post_init__(self) -> None:
        if self.min_sharpness < 0 or self.min_motion < 0 or self.min_detail_ratio < 0:
            raise ValueError(f"min_sharpness and min_motion must be >= 0, got {self.min_sharpness}, "
                             f"{self.min_motion}")
        for name in ("max_blank_frac", "max_letterbox_frac"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class ClipQuality:
    sharpness: float
    """Median over frames of the variance of the Laplacian of luma over the variance of luma."""
    detail_ratio: float
    """Median over frames of the variance of the Laplacian of luma over that at half the resolution (1 for a
    frame without detail at either scale)."""
    blank_frac: float
    """Share of frames that are one flat colour (luma standard deviation below 1 level), dark or bright."""
    motion: float
    """Second-largest, over consecutive frame pairs, of the largest mean absolute luma difference in a cell of
    an 8x8 grid over the picture, over the frames' median luma standard deviation (0 for a single frame; the
    largest pair when there is only one)."""
    letterbox_frac: float
    """Share of rows (or columns) in black bars at the picture's edges: dark and flat in every frame (0 when
    the picture between them is dark too: that is a dark scene, not a boxed one)."""

    def columns(self) -> dict[str, Any]:
        return asdict(self)


QUALITY_FIELDS: tuple[str, ...] = tuple(ClipQuality.__dataclass_fields__)


def _bars(brightest: np.ndarray, axis: int) -> float:
    """Share of lines (rows for ``axis`` 1, columns for 0) in black bars at both ends of the picture: lines dark
    and flat in every frame (``brightest`` is each pixel's brightest value over the clip). 0 when the picture
    between the bars is itself dark (night footage, things on a black ground): there is nothing to box."""
    dark = (brightest.mean(axis=axis) < _DARK) & (brightest.std(axis=axis) < _BAR_FLAT)
    if dark.all():
        return 0.0
    top, bottom = int(np.argmin(dark)), len(dark) - int(np.argmin(dark[::-1]))
    inner = brightest[top:bottom] if axis == 1 else brightest[:, top:bottom]
    if inner.mean() < 2 * _DARK:
        return 0.0
    return (len(dark) - (bottom - top)) / len(dark)


def _laplacian(luma: np.ndarray) -> np.ndarray:
    return (luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1] + luma[:, 1:-1, :-2] + luma[:, 1:-1, 2:]
            - 4 * luma[:, 1:-1, 1:-1])


def measure(frames: np.ndarray) -> ClipQuality:
    """Scores of one clip's frames, ``uint8 [T, H, W, 3]``."""
    luma = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    half = (luma[:, 0:-1:2, 0:-1:2] + luma[:, 1::2, 0:-1:2] + luma[:, 0:-1:2, 1::2] + luma[:, 1::2, 1::2]) / 4
    stds = luma.reshape(len(luma), -1).std(axis=1)
    fine = _laplacian(luma).reshape(len(luma), -1).var(axis=1)
    coarse = _laplacian(half).reshape(len(luma), -1).var(axis=1)
    # Detail relative to contrast (a low-contrast scene is not blurry), and fine detail relative to coarse (blur
    # removes the first far more than the second; a scene with little texture has little of both).
    sharpness = float(np.median(fine / np.maximum(stds, _FLAT_STD) ** 2))
    detail_ratio = float(np.median(np.where(coarse > 1e-3, fine / np.maximum(coarse, 1e-3), 1.0)))
    blank_frac = float(np.mean(stds < _FLAT_STD))
    # The second-largest pair: one refreshed keyframe in a still picture (an encoder artefact) does not make it
    # move, while footage with repeated frames still shows its moving pairs.
    # The most-changed cell of a pair: an encoder's noise on a held picture moves every pixel a level or two
    # (and averages out over a cell), an object moving in a still scene moves the cells it crosses by tens.
    pairs = np.sort(cell_means(np.abs(np.diff(luma, axis=0)), 8).max(axis=(1, 2))) if len(luma) > 1 \
        else np.zeros(1)
    motion = float(pairs[-2] if len(pairs) > 1 else pairs[-1]) / max(float(np.median(stds)), 1.0)
    brightest = luma.max(axis=0)  # dark in every frame
    return ClipQuality(sharpness=sharpness, detail_ratio=detail_ratio, blank_frac=blank_frac, motion=motion,
                       letterbox_frac=max(_bars(brightest, 1), _bars(brightest, 0)))


def verdict(q: ClipQuality, cfg: QualityConfig) -> tuple[str, str] | None:
    """(reason, detail) when the clip is filtered, None when it is kept."""
    if q.blank_frac > cfg.max_blank_frac:
        return BLANK, f"blank_frac={q.blank_frac:.2f} > max_blank_frac={cfg.max_blank_frac:g}"
    if q.motion < cfg.min_motion:
        return FROZEN, f"motion={q.motion:.3f} < min_motion={cfg.min_motion:g}"
    if q.sharpness < cfg.min_sharpness:
        return BLURRY, f"sharpness={q.sharpness:.3f} < min_sharpness={cfg.min_sharpness:g}"
    if q.detail_ratio < cfg.min_detail_ratio:
        return BLURRY, f"detail_ratio={q.detail_ratio:.2f} < min_detail_ratio={cfg.min_detail_ratio:g}"
    if q.letterbox_frac > cfg.max_letterbox_frac:
        return LETTERBOXED, f"letterbox_frac={q.letterbox_frac:.2f} > max_letterbox_frac={cfg.max_letterbox_frac:g}"
    return None
