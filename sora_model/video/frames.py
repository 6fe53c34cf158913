"""Frame geometry: short-side resize then centre crop, and a small bilinear resize for augmentation."""

from __future__ import annotations

import numpy as np


def resize_dims(width_px: int, height_px: int, out_width_px: int, out_height_px: int) -> tuple[int, int]:
    """(width, height) after scaling the source so it covers the output box with its aspect ratio kept.

    Scaling by the larger of the two ratios makes the short side (relative to the box) fit exactly; the centre
    crop then removes the excess of the long side.
    """
    if min(width_px, height_px, out_width_px, out_height_px) <= 0:
        raise ValueError(f"sizes must be > 0: {width_px}x{height_px} -> {out_width_px}x{out_height_px}")
    scale = max(out_width_px / width_px, out_height_px / height_px)
    return max(out_width_px, round(width_px * scale)), max(out_height_px, round(height_px * scale))


def center_crop(frame: np.ndarray, out_height_px: int, out_width_px: int) -> np.ndarray:
    """Centre crop of an ``[..., H, W, C]`` array (a view)."""
    h, w = frame.shape[-3], frame.shape[-2]
    if h < out_height_px or w < out_width_px:
        raise ValueError(f"cannot crop {h}x{w} to {out_height_px}x{out_width_px}")
    top, left = (h - out_height_px) // 2, (w - out_width_px) // 2
    return frame[..., top:top + out_height_px, left:left + out_width_px, :]


def cell_means(planes: np.ndarray, grid: int) -> np.ndarray:
    """Means over a ``grid`` x ``grid`` of equal cells of each ``[N, H, W]`` plane, ``[N, grid, grid]`` (the last
    rows and columns that do not fill a cell are left out; a side shorter than the grid is one cell a pixel)."""
    n, h, w = planes.shape
    gh, gw = min(grid, h), min(grid, w)
    ch, cw = h // gh, w // gw
    return planes[:, :ch * gh, :cw * gw].reshape(n, gh, ch, gw, cw).mean(axis=(2, 4))


def resize_bilinear(frames: np.ndarray, out_height_px: int, out_width_px: int) -> np.ndarray:
    """Bilinear resize of uint8 ``[T, H, W, C]`` (half-pixel centres, like OpenCV's INTER_LINEAR)."""
    t, h, w, c = frames.shape
    if (h, w) == (out_height_px, out_width_px):
        return frames.copy()
    ys = np.clip((np.arange(out_height_px) + 0.5) * h / out_height_px - 0.5, 0, h - 1)
    xs = np.clip((np.arange(out_width_px) + 0.5) * w / out_width_px - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
    # Separable: interpolate rows first, then columns of the (smaller) result.
    f = frames.astype(np.float32)
    rows = f[:, y0] * (1 - wy) + f[:, y1] * wy
    out = rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
