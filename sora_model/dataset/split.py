"""Train/val/test assignment by a hash of the video id: every clip of a video lands in the same split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sora_model.lake.ids import unit_hash

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = get_args(Split)


@dataclass(frozen=True, kw_only=True)
class SplitConfig:
    train_frac: float = 0.8
    """Fraction of videos (not clips) in the train split."""
    val_frac: float = 0.1
    """Fraction of videos in the val split; test gets the rest."""
    seed: int = 0
    """Salt of the hash; change it to draw another split of the same corpus."""

    def __post_init__(self) -> None:
        if not (0 <= self.train_frac <= 1 and 0 <= self.val_frac <= 1 and self.train_frac + self.val_frac <= 1):
            raise ValueError(f"need 0 <= train_frac, val_frac and train_frac + val_frac <= 1, "
                             f"got {self.train_frac} and {self.val_frac}")

    @property
    def test_frac(self) -> float:
        return max(0.0, 1.0 - self.train_frac - self.val_frac)


def assign_split(video_id: str, cfg: SplitConfig) -> Split:
    u = unit_hash("split", cfg.seed, video_id)
    if u < cfg.train_frac:
        return "train"
    if u < cfg.train_frac + cfg.val_frac:
        return "val"
    return "test"
