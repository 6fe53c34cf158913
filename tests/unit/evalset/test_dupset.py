"""Copies for the near-duplicate set: each kind is a real, decodable encoding of its original's pictures."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from sora_model.evalset import dupset
from sora_model.evalset.footage import fetch


@pytest.fixture(scope="module")
def original() -> tuple[Path, list[np.ndarray], float]:
    path = fetch(["carphone.mp4"])["carphone.mp4"]
    pictures, fps = dupset._read(path)
    return path, pictures, fps


def _decoded(path: Path) -> list[np.ndarray]:
    out = []
    with av.open(str(path)) as c:
        for packet in c.demux(c.streams.video[0]):
            try:
                out.extend(f.to_ndarray(format="gray") for f in packet.decode())
            except av.FFmpegError:
                continue
    return out


# VP9 is left out for the reason test_signature gives (libvpx beside decord in one process).
@pytest.mark.parametrize("how", [c for c in dupset.COPIES if c != "vp9"])
def test_every_kind_of_copy_is_a_decodable_video_of_the_same_pictures(original, tmp_path: Path, how: str):
    path, pictures, fps = original
    copy = dupset._copy(pictures, fps, how, path, tmp_path / f"carphone.{how}.mp4", np.random.default_rng(0))
    frames = _decoded(copy)
    n = len(pictures)
    assert frames, how
    expected = {"trim": (n * 0.6, n * 0.85), "slow": (n * 1.3, n * 1.4), "fast": (n * 0.6, n * 0.7)}
    low, high = expected.get(how, (n - 1, n + 1))
    assert low <= len(frames) <= high, (how, len(frames), n)
    if how == "letterbox":
        assert frames[0][:8].max() < 24 and frames[0][-8:].max() < 24 and frames[0].mean() > 40
    if how == "half_size":
        assert frames[0].shape == (pictures[0].shape[0] // 2, pictures[0].shape[1] // 2)
    if how == "bit_flips":
        assert copy.read_bytes() != path.read_bytes() and copy.stat().st_size == path.stat().st_size
