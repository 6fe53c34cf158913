from __future__ import annotations

import numpy as np
import pytest

from sora_model.video.augment import AugmentConfig, augment_frames, jitter_indices
from sora_model.video.clips import Span, sample_indices

CLIP = "0b7a5a8e-6a1e-5c1e-9a43-5c1ba0d2f1a0"


def _frames(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(8, 32, 40, 3), dtype=np.uint8)


def test_same_config_gives_byte_identical_output():
    cfg = AugmentConfig(copies=2, seed=5)
    a = augment_frames(_frames(), CLIP, 1, cfg)
    b = augment_frames(_frames(), CLIP, 1, cfg)
    assert a.tobytes() == b.tobytes()


def test_seed_clip_and_copy_each_change_the_draw():
    frames = _frames()
    base = augment_frames(frames, CLIP, 1, AugmentConfig(seed=5)).tobytes()
    assert augment_frames(frames, CLIP, 2, AugmentConfig(seed=5)).tobytes() != base
    assert augment_frames(frames, CLIP.replace("0b", "0c"), 1, AugmentConfig(seed=5)).tobytes() != base
    assert augment_frames(frames, CLIP, 1, AugmentConfig(seed=6)).tobytes() != base


def test_all_ops_off_is_identity():
    cfg = AugmentConfig(hflip_p=0, crop_p=0, brightness=0, contrast=0)
    frames = _frames()
    assert np.array_equal(augment_frames(frames, CLIP, 1, cfg), frames)


def test_flip_only_mirrors_every_frame():
    cfg = AugmentConfig(hflip_p=1, crop_p=0, brightness=0, contrast=0)
    frames = _frames()
    assert np.array_equal(augment_frames(frames, CLIP, 1, cfg), frames[:, :, ::-1])


def test_shape_and_dtype_are_kept():
    out = augment_frames(_frames(), CLIP, 3, AugmentConfig(crop_p=1.0))
    assert out.shape == (8, 32, 40, 3) and out.dtype == np.uint8 and out.flags.c_contiguous


def test_temporal_jitter_stays_in_span_and_in_order():
    span = Span(100, 140)
    base = sample_indices(span, 8)
    for k in range(1, 20):
        idx = jitter_indices(base, span, CLIP, k, AugmentConfig(temporal_jitter_frames=3))
        assert idx.min() >= 100 and idx.max() < 140
        assert np.all(np.diff(idx) >= 0)
        assert np.all(np.abs(idx - base) <= 3)
    assert np.array_equal(jitter_indices(base, span, CLIP, 1, AugmentConfig(temporal_jitter_frames=0)), base)


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        AugmentConfig(copies=-1)
    with pytest.raises(ValueError):
        AugmentConfig(splits=("holdout",))
