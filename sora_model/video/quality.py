"""Pixel quality of a clip, measured on the frames the decoder already handed over (no extra decode pass):
sharpness, black or blank frames, motion and letterbox bars. Scores become columns of ``clips``; a clip past a
threshold is recorded with its reason and left out of the shards, never dropped silently."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Reason codes of a filtered clip (the `filter_reason` column of clips).
BLURRY = "blurry"
BLANK = "blank"
FROZEN = "frozen"
LETTERBOXED = "letterboxed"
FILTER_REASONS = (BLANK, FROZEN, BLURRY, LETTERBOXED)
"""In the order they are checked: the first that applies is the clip's reason."""

_DARK = 20.0      # luma (0-255) below which a pixel row or a frame counts as black
_FLAT_STD = 3.0   # a frame whose luma varies less than this is one flat colour (blank)


@dataclass(frozen=True, kw_only=True)
class QualityConfig:
    min_sharpness: float = 0.03
    """A clip is filtered as blurry when its sharpness (median frame's variance of the Laplacian of luma over its
    luma variance) is below this AND its detail ratio is below ``min_detail_ratio``. Neither alone separates a
    smooth, little-textured scene from a blurred one. Measured at 32 px over the 1254 clean clips of the demo
    corpus and four real cameras: no clean clip below both (the closest: 0.033 and 0.31); real footage
    box-blurred by 1/12 of its width 0.008-0.028 and 0.13-0.17. 0 turns the check off."""
    min_detail_ratio: float = 0.3
    """See ``min_sharpness``: the median frame's variance of the Laplacian at the output size over that at half
    the size (blur removes fine detail far more than coarse)."""
    max_blank_frac: float = 0.5
    """A clip with a larger share of black or one-colour frames is filtered as blank."""
    min_motion: float = 0.007
    """A clip whose consecutive sampled frames differ by less than this (second-largest pair's mean absolute
    luma difference, 0-255) is filtered as frozen. Measured at 32 px: a still picture encoded as h264 0.000-0.006
    (a refreshed keyframe leaves the pictures after it a little off), the slowest motion in the demo corpus (a
    small object turning on a smooth background) 0.008: a narrow margin, so 0 turns the check off."""
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
    """Share of frames that are black (mean luma < 20) or one flat colour."""
    motion: float
    """Second-largest, over consecutive frame pairs, of their mean absolute luma difference (0 for a single
    frame; the largest pair when there is only one)."""
    letterbox_frac: float
    """Share of rows (or columns) in black bars at the picture's edges, dark in every frame."""

    def columns(self) -> dict[str, Any]:
        return asdict(self)


QUALITY_FIELDS: tuple[str, ...] = tuple(ClipQuality.__dataclass_fields__)


def _bars(dark: np.ndarray) -> int:
    """Dark lines at both ends of a 1-D boolean profile."""
    n = len(dark)
    if dark.all():
        return n
    top = int(np.argmin(dark))
    bottom = int(np.argmin(dark[::-1]))
    return top + bottom


def _laplacian(luma: np.ndarray) -> np.ndarray:
    return (luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1] + luma[:, 1:-1, :-2] + luma[:, 1:-1, 2:]
            - 4 * luma[:, 1:-1, 1:-1])


def measure(frames: np.ndarray) -> ClipQuality:
    """Scores of one clip's frames, ``uint8 [T, H, W, 3]``."""
    luma = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    half = (luma[:, 0:-1:2, 0:-1:2] + luma[:, 1::2, 0:-1:2] + luma[:, 0:-1:2, 1::2] + luma[:, 1::2, 1::2]) / 4
    means = luma.reshape(len(luma), -1).mean(axis=1)
    stds = luma.reshape(len(luma), -1).std(axis=1)
    fine = _laplacian(luma).reshape(len(luma), -1).var(axis=1)
    coarse = _laplacian(half).reshape(len(luma), -1).var(axis=1)
    # Detail relative to contrast (a low-contrast scene is not blurry), and fine detail relative to coarse (blur
    # removes the first far more than the second; a scene with little texture has little of both).
    sharpness = float(np.median(fine / np.maximum(stds, _FLAT_STD) ** 2))
    detail_ratio = float(np.median(np.where(coarse > 1e-3, fine / np.maximum(coarse, 1e-3), 1.0)))
    blank_frac = float(np.mean((means < _DARK) | (stds < _FLAT_STD)))
    # The second-largest pair: one refreshed keyframe in a still picture (an encoder artefact) does not make it
    # move, while footage with repeated frames still shows its moving pairs.
    pairs = np.sort(np.abs(np.diff(luma, axis=0)).reshape(len(luma) - 1, -1).mean(axis=1)) if len(luma) > 1 \
        else np.zeros(1)
    motion = float(pairs[-2] if len(pairs) > 1 else pairs[-1])
    brightest = luma.max(axis=0)  # dark in every frame
    rows = _bars(brightest.mean(axis=1) < _DARK) / luma.shape[1]
    cols = _bars(brightest.mean(axis=0) < _DARK) / luma.shape[2]
    return ClipQuality(sharpness=sharpness, detail_ratio=detail_ratio, blank_frac=blank_frac, motion=motion,
                       letterbox_frac=max(rows, cols))


def verdict(q: ClipQuality, cfg: QualityConfig) -> tuple[str, str] | None:
    """(reason, detail) when the clip is filtered, None when it is kept."""
    if q.blank_frac > cfg.max_blank_frac:
        return BLANK, f"blank_frac={q.blank_frac:.2f} > max_blank_frac={cfg.max_blank_frac:g}"
    if q.motion < cfg.min_motion:
        return FROZEN, f"motion={q.motion:.3f} < min_motion={cfg.min_motion:g}"
    if q.sharpness < cfg.min_sharpness and q.detail_ratio < cfg.min_detail_ratio:
        return BLURRY, (f"sharpness={q.sharpness:.3f} < min_sharpness={cfg.min_sharpness:g} and detail_ratio="
                        f"{q.detail_ratio:.2f} < min_detail_ratio={cfg.min_detail_ratio:g}")
    if q.letterbox_frac > cfg.max_letterbox_frac:
        return LETTERBOXED, f"letterbox_frac={q.letterbox_frac:.2f} > max_letterbox_frac={cfg.max_letterbox_frac:g}"
    return None
