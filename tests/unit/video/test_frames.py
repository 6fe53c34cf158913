from __future__ import annotations

import numpy as np
import pytest

from sora_model.video.frames import center_crop, resize_bilinear, resize_dims


@pytest.mark.parametrize("src, box, expected", [
    ((320, 96), (64, 64), (213, 64)),
    ((96, 320), (64, 64), (64, 213)),
    ((160, 120), (64, 64), (85, 64)),
    ((64, 64), (64, 64), (64, 64)),
    ((100, 100), (128, 64), (128, 128)),
])
def test_resize_dims_cover_the_box_keeping_aspect(src, box, expected):
    assert resize_dims(*src, *box) == expected


def test_center_crop_takes_the_middle():
    frame = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    out = center_crop(frame, 4, 4)
    assert out.shape == (4, 4, 3)
    assert np.array_equal(out, frame[1:5, 2:6])


def test_center_crop_refuses_a_too_small_frame():
    with pytest.raises(ValueError):
        center_crop(np.zeros((4, 4, 3), np.uint8), 8, 8)


def test_bilinear_resize_keeps_constant_images_and_shape():
    frames = np.full((2, 10, 14, 3), 77, np.uint8)
    out = resize_bilinear(frames, 7, 5)
    assert out.shape == (2, 7, 5, 3) and np.all(out == 77)


def test_bilinear_resize_of_a_ramp_stays_monotonic():
    ramp = np.tile(np.linspace(0, 255, 32).astype(np.uint8)[None, None, :, None], (1, 4, 1, 3))
    out = resize_bilinear(ramp, 4, 64)[0, 0, :, 0]
    assert np.all(np.diff(out.astype(int)) >= 0) and out[0] <= 8 and out[-1] >= 247
