"""Per-file quality gate on probe results. Duplicates need every file's hash, so the pipeline finds those."""

from __future__ import annotations

from dataclasses import dataclass

from sora_model.video import rejects
from sora_model.video.probe import ProbeResult
from sora_model.video.rejects import Rejected


@dataclass(frozen=True, kw_only=True)
class CleanConfig:
    min_duration_s: float = 1.0
    """Videos shorter than this are rejected as too_short."""
    min_width_px: int = 64
    """Videos narrower than this are rejected as too_small."""
    min_height_px: int = 64
    """Videos lower than this are rejected as too_small."""
    max_fps: float = 240.0
    """A frame rate above this is taken for broken metadata (bad_metadata)."""
    max_side_px: int = 8192
    """A frame side above this is taken for broken metadata (bad_metadata)."""
    max_duration_s: float = 86400.0
    """A duration above this is taken for broken metadata (bad_metadata)."""

    def __post_init__(self) -> None:
        if self.min_duration_s < 0:
            raise ValueError(f"min_duration_s must be >= 0, got {self.min_duration_s}")
        if self.min_width_px < 1 or self.min_height_px < 1:
            raise ValueError("min_width_px and min_height_px must be >= 1")
        if self.max_fps <= 0 or self.max_side_px <= 0 or self.max_duration_s <= 0:
            raise ValueError("max_fps, max_side_px and max_duration_s must be > 0")


def check(probe: ProbeResult, cfg: CleanConfig) -> Rejected | None:
    """The first reason ``probe`` fails the gate, or None when the video is usable."""
    if not (0 < probe.fps <= cfg.max_fps):
        return Rejected("clean", rejects.BAD_METADATA, f"fps={probe.fps:g} outside (0, {cfg.max_fps:g}]")
    if not (0 < probe.width_px <= cfg.max_side_px and 0 < probe.height_px <= cfg.max_side_px):
        return Rejected("clean", rejects.BAD_METADATA,
                        f"frame {probe.width_px}x{probe.height_px} px outside (0, {cfg.max_side_px}]")
    if probe.frame_count <= 0 or not (0 < probe.duration_s <= cfg.max_duration_s):
        return Rejected("clean", rejects.BAD_METADATA,
                        f"frame_count={probe.frame_count}, duration_s={probe.duration_s:g}")
    if probe.duration_s < cfg.min_duration_s:
        return Rejected("clean", rejects.TOO_SHORT,
                        f"duration_s={probe.duration_s:.3f} < min_duration_s={cfg.min_duration_s:g}")
    if probe.width_px < cfg.min_width_px or probe.height_px < cfg.min_height_px:
        return Rejected("clean", rejects.TOO_SMALL,
                        f"{probe.width_px}x{probe.height_px} px < {cfg.min_width_px}x{cfg.min_height_px} px")
    return None
