from __future__ import annotations

import pytest
import torch

from sora_model.train.symmetries import LabelSymmetries, SymmetryConfig, label_permutation

CLASSES = ["clockwise", "counterclockwise", "down", "left", "right", "up"]
REVERSE = {"left": "right", "right": "left", "up": "down", "down": "up",
           "clockwise": "counterclockwise", "counterclockwise": "clockwise"}


def _clips(b: int = 4, t: int = 3, side: int = 4) -> torch.Tensor:
    return torch.arange(b * t * side * side * 3, dtype=torch.int64).remainder(251).to(torch.uint8).view(
        b, t, side, side, 3)


def test_reverse_plays_backwards_and_swaps_direction_labels():
    sym = LabelSymmetries(SymmetryConfig(reverse_p=1.0, reverse_labels=REVERSE), CLASSES, [3, 4, 4, 3])
    clips, labels = _clips(), torch.tensor([CLASSES.index(c) for c in ("left", "up", "clockwise", "right")])
    out, new = sym(clips, labels)
    assert torch.equal(out, clips.flip(1))
    assert [CLASSES[i] for i in new] == ["right", "down", "counterclockwise", "left"]


def test_hflip_keeps_vertical_classes_and_mirrors_the_width_axis():
    sym = LabelSymmetries(SymmetryConfig(hflip_p=1.0, hflip_labels={"left": "right", "right": "left"}),
                          CLASSES, [3, 4, 4, 3])
    clips, labels = _clips(b=2), torch.tensor([CLASSES.index("up"), CLASSES.index("left")])
    out, new = sym(clips, labels)
    assert torch.equal(out[:, :, :, 0], clips[:, :, :, -1])
    assert [CLASSES[i] for i in new] == ["up", "right"]


def test_transpose_turns_horizontal_into_vertical():
    sym = LabelSymmetries(SymmetryConfig(transpose_p=1.0, transpose_labels={"left": "up", "up": "left"}),
                          CLASSES, [3, 4, 4, 3])
    clips = _clips(b=1)
    out, new = sym(clips, torch.tensor([CLASSES.index("left")]))
    assert torch.equal(out[0, :, 1, 2], clips[0, :, 2, 1]) and CLASSES[int(new[0])] == "up"


def test_probability_zero_changes_nothing_and_draws_are_seeded():
    clips, labels = _clips(b=64), torch.arange(64) % 6
    off = LabelSymmetries(SymmetryConfig(), CLASSES, [3, 4, 4, 3])
    assert off(clips, labels)[0] is clips
    half = LabelSymmetries(SymmetryConfig(reverse_p=0.5, reverse_labels=REVERSE), CLASSES, [3, 4, 4, 3])
    torch.manual_seed(3)
    a = half(clips, labels)
    torch.manual_seed(3)
    b = half(clips, labels)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    changed = (a[1] != labels).sum().item()
    assert 10 < changed < 54  # about half of 64


def test_bad_maps_and_shapes_are_refused():
    with pytest.raises(ValueError, match="does not have"):
        label_permutation({"left": "sideways"}, CLASSES, "reverse")
    with pytest.raises(ValueError, match="one to one"):
        label_permutation({"left": "right"}, CLASSES, "reverse")  # right would stay right: two classes -> right
    with pytest.raises(ValueError, match="square"):
        LabelSymmetries(SymmetryConfig(transpose_p=0.5), CLASSES, [8, 32, 48, 3])
    with pytest.raises(ValueError, match="reverse_p"):
        SymmetryConfig(reverse_p=1.5)
