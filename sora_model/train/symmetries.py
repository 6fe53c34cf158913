"""Label-aware symmetries of training clips: play backwards, flip, transpose, and map the label accordingly.

When classes are motions, a mirror or a reversed clip is still a valid example, of another class: "left" played
backwards is "right", "clockwise" mirrored is "counterclockwise". Each transform doubles the examples a class
has, and because the appearance stays while the label changes, it takes away the shortcut of remembering a
video's look. A class a map does not name keeps its label (e.g. "up" under a horizontal flip).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

TRANSFORMS = ("reverse", "hflip", "vflip", "transpose")


@dataclass(frozen=True, kw_only=True)
class SymmetryConfig:
    reverse_p: float = 0.0
    """Probability of playing a training clip backwards (0 turns it off)."""
    reverse_labels: dict[str, str] = field(default_factory=dict)
    """Class each class becomes when played backwards, e.g. {left: right, right: left}; unnamed classes keep
    theirs."""
    hflip_p: float = 0.0
    """Probability of mirroring a training clip left to right."""
    hflip_labels: dict[str, str] = field(default_factory=dict)
    """Class each class becomes when mirrored left to right."""
    vflip_p: float = 0.0
    """Probability of flipping a training clip upside down."""
    vflip_labels: dict[str, str] = field(default_factory=dict)
    """Class each class becomes when flipped upside down."""
    transpose_p: float = 0.0
    """Probability of swapping a training clip's x and y axes (square frames only)."""
    transpose_labels: dict[str, str] = field(default_factory=dict)
    """Class each class becomes when x and y are swapped, e.g. {left: up, up: left}."""

    def __post_init__(self) -> None:
        for name in TRANSFORMS:
            p = getattr(self, f"{name}_p")
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name}_p must be in [0, 1], got {p}")

    @property
    def active(self) -> bool:
        return any(getattr(self, f"{name}_p") > 0 for name in TRANSFORMS)


def label_permutation(labels: dict[str, str], classes: list[str], transform: str) -> torch.Tensor:
    """Index map ``new_label = perm[label]``; the map must name known classes and be one-to-one."""
    unknown = sorted((set(labels) | set(labels.values())) - set(classes))
    if unknown:
        raise ValueError(f"{transform}_labels names classes the dataset does not have: {unknown} "
                         f"(classes: {classes})")
    perm = [classes.index(labels.get(c, c)) for c in classes]
    if len(set(perm)) != len(perm):
        raise ValueError(f"{transform}_labels must map classes one to one, got {labels}")
    return torch.tensor(perm)


class LabelSymmetries:
    """Applies the configured transforms to a batch ``uint8 [B, T, H, W, C]`` and its labels, per clip.

    Randomness comes from torch's global generator, which checkpoints save and restore, so a resumed run draws
    the same transforms as an uninterrupted one.
    """

    def __init__(self, cfg: SymmetryConfig, classes: list[str], frames_shape: list[int]) -> None:
        if cfg.transpose_p > 0 and frames_shape[1] != frames_shape[2]:
            raise ValueError(f"transpose needs square frames, the dataset has {frames_shape[1]}x{frames_shape[2]}")
        self.steps = [(getattr(cfg, f"{name}_p"), label_permutation(getattr(cfg, f"{name}_labels"), classes, name),
                       name) for name in TRANSFORMS if getattr(cfg, f"{name}_p") > 0]

    @staticmethod
    def _apply(name: str, clips: torch.Tensor) -> torch.Tensor:
        if name == "reverse":
            return clips.flip(1)
        if name == "hflip":
            return clips.flip(3)
        if name == "vflip":
            return clips.flip(2)
        return clips.transpose(2, 3)

    def __call__(self, clips: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for p, perm, name in self.steps:
            chosen = (torch.rand(clips.shape[0]) < p).to(clips.device)
            clips = torch.where(chosen.view(-1, 1, 1, 1, 1), self._apply(name, clips), clips)
            labels = torch.where(chosen, perm.to(labels.device)[labels], labels)
        return clips, labels
