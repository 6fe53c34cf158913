"""Seeded, reproducible clip augmentation: every random draw comes from a generator seeded by
``(augment.seed, clip_id, aug_index)``, so the same config always writes byte-identical rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sora_model.dataset.split import SPLITS, Split
from sora_model.lake.ids import seed_of
from sora_model.video.clips import Span
from sora_model.video.frames import resize_bilinear


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    copies: int = 0
    """Augmented copies written per clip in addition to the original (aug_index 0). 0 turns augmentation off."""
    seed: int = 0
    """Base seed; each copy's generator is seeded from (seed, clip_id, aug_index)."""
    splits: tuple[Split, ...] = ("train",)
    """Splits that get augmented copies; evaluation splits normally stay clean."""
    hflip_p: float = 0.5
    """Probability of a horizontal flip. Set 0 when labels depend on left/right (motion direction)."""
    crop_p: float = 0.5
    """Probability of a random resized crop (same box for every frame of the clip)."""
    crop_min_scale: float = 0.6
    """Smallest crop area as a fraction of the frame."""
    brightness: float = 0.2
    """Brightness offset drawn from [-b, b] (fraction of full scale)."""
    contrast: float = 0.2
    """Contrast factor drawn from [1-c, 1+c]."""
    temporal_jitter_frames: int = 2
    """Each sampled frame index moves by up to this many frames (order kept, inside the clip)."""

    def __post_init__(self) -> None:
        if self.copies < 0:
            raise ValueError(f"copies must be >= 0, got {self.copies}")
        for name in ("hflip_p", "crop_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 < self.crop_min_scale <= 1:
            raise ValueError(f"crop_min_scale must be in (0, 1], got {self.crop_min_scale}")
        if not 0 <= self.brightness <= 1 or not 0 <= self.contrast <= 1:
            raise ValueError("brightness and contrast must be in [0, 1]")
        if self.temporal_jitter_frames < 0:
            raise ValueError(f"temporal_jitter_frames must be >= 0, got {self.temporal_jitter_frames}")
        bad = set(self.splits) - set(SPLITS)
        if bad:
            raise ValueError(f"splits must be among {', '.join(SPLITS)}; got {sorted(bad)}")


def _rng(cfg: AugmentConfig, clip_id: str, aug_index: int, purpose: str) -> np.random.Generator:
    return np.random.default_rng(seed_of(cfg.seed, clip_id, aug_index, purpose))


def jitter_indices(indices: np.ndarray, span: Span, clip_id: str, aug_index: int,
                   cfg: AugmentConfig) -> np.ndarray:
    """Temporal jitter: move each index by up to ``temporal_jitter_frames``, stay in the span, keep order."""
    if cfg.temporal_jitter_frames == 0:
        return indices.copy()
    rng = _rng(cfg, clip_id, aug_index, "time")
    j = cfg.temporal_jitter_frames
    moved = indices + rng.integers(-j, j + 1, size=indices.shape)
    return np.sort(np.clip(moved, span.start_frame, span.end_frame - 1))


def augment_frames(frames: np.ndarray, clip_id: str, aug_index: int, cfg: AugmentConfig) -> np.ndarray:
    """Pixel augmentation of uint8 ``[T, H, W, C]``: flip, resized crop, brightness/contrast; same shape out."""
    rng = _rng(cfg, clip_id, aug_index, "pixels")
    _, h, w, _ = frames.shape
    out = frames
    if rng.random() < cfg.hflip_p:
        out = out[:, :, ::-1]
    if rng.random() < cfg.crop_p:
        area = rng.uniform(cfg.crop_min_scale, 1.0) * h * w
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        ch = int(min(h, max(1, round(np.sqrt(area / ratio)))))
        cw = int(min(w, max(1, round(np.sqrt(area * ratio)))))
        top = int(rng.integers(0, h - ch + 1))
        left = int(rng.integers(0, w - cw + 1))
        out = resize_bilinear(np.ascontiguousarray(out[:, top:top + ch, left:left + cw]), h, w)
    offset = rng.uniform(-cfg.brightness, cfg.brightness) * 255.0
    gain = rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
    if cfg.brightness or cfg.contrast:
        # An affine map of uint8 values: a 256-entry table avoids float copies of the whole clip.
        mean = float(out.mean())
        levels = np.arange(256, dtype=np.float64)
        lut = np.clip(np.rint((levels - mean) * gain + mean + offset), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(lut[out])
    return np.ascontiguousarray(out)
