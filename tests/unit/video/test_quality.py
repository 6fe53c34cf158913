"""Pixel quality filters on real footage, spoiled on purpose and re-encoded, and on clean clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig, uniform_rows
from sora_model.video.decode import DecodeConfig
from sora_model.video.process import decode_video, probe_video
from sora_model.video.quality import QualityConfig, measure, verdict
from sora_model.video.writers import box_blur, encode_frames, letterbox

DECODE = DecodeConfig(isolate=False, frames_per_clip=8, height_px=32, width_px=32)


def _pictures(path: Path, count: int) -> list[np.ndarray]:
    import av

    out = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            img = frame.to_ndarray(format="rgb24")
            out.append(img[: img.shape[0] // 2 * 2, : img.shape[1] // 2 * 2])
            if len(out) == count:
                break
    return out


def _verdicts(path: Path, decode: DecodeConfig = DECODE) -> list[str]:
    video = decode_video(probe_video(str(path), CleanConfig()), ClipConfig(), decode,
                         uniform_rows(decode.frames_per_clip))
    assert video.clips, path
    return [(verdict(measure(rows[0]), QualityConfig()) or ("kept",))[0] for _, rows in video.clips]


@pytest.mark.parametrize("name", ["tree.avi", "city.mpg", "vtest.avi"])
def test_spoiled_real_footage_is_filtered_by_the_right_reason(footage: dict, tmp_path: Path, name: str):
    pictures = _pictures(footage[name], 50)
    h, w = pictures[0].shape[:2]
    spoiled = {
        "frozen": [pictures[0]] * 50,
        "blank": [np.full_like(pictures[0], 12)] * 50,
        "blurry": [box_blur(p, w // 12) for p in pictures],
        "letterboxed": [letterbox(p, 0.2) for p in pictures],
    }
    for reason, frames in spoiled.items():
        path = tmp_path / f"{reason}.mp4"
        encode_frames(path, iter(frames), w, h, 25, False)
        assert set(_verdicts(path)) == {reason}, reason


def test_clean_real_and_synthetic_clips_are_all_kept(footage: dict, corpus: Path, manifest: dict):
    for name in ("tree.avi", "city.mpg", "vtest.avi"):  # megamind.avi is a letterboxed film trailer
        for size in (32, 64):
            decode = DecodeConfig(isolate=False, frames_per_clip=8, height_px=size, width_px=size)
            assert set(_verdicts(footage[name], decode)) == {"kept"}, (name, size)
    for video in manifest["videos"]:
        assert set(_verdicts(corpus / video["name"])) == {"kept"}, video["name"]


def test_dark_scenes_are_kept_and_bars_over_a_dark_picture_are_not_letterbox():
    rng = np.random.default_rng(0)
    night = [np.clip(rng.normal(14, 6, (32, 32, 3)) + 8 * np.sin(np.arange(32) / 3 + t)[None, :, None], 0, 255)
             .astype(np.uint8) for t in range(8)]
    q = measure(np.stack(night))
    assert q.blank_frac == 0 and verdict(q, QualityConfig()) is None  # dark, but something is there
    boxed = np.stack([np.pad(f[8:24], ((8, 8), (0, 0), (0, 0))) for f in night])
    assert measure(boxed).letterbox_frac == 0  # black ground around a dark scene: nothing to say it is boxed
    bright = np.stack([np.pad(np.clip(f[8:24].astype(int) * 6, 0, 255).astype(np.uint8), ((8, 8), (0, 0), (0, 0)))
                       for f in night])
    assert measure(bright).letterbox_frac == 0.5 and verdict(measure(bright), QualityConfig())[0] == "letterboxed"


def test_scores_of_single_frames_and_flat_pictures():
    flat = np.full((1, 16, 16, 3), 200, np.uint8)
    q = measure(flat)
    assert q.motion == 0 and q.blank_frac == 1 and q.letterbox_frac == 0 and q.sharpness == 0 and q.detail_ratio == 1
    with pytest.raises(ValueError, match="max_blank_frac"):
        QualityConfig(max_blank_frac=2)
