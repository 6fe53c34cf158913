"""Near-duplicate signatures on real footage: variants match, distinct videos do not."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from sora_model.video.signature import NearDupConfig, bands, keyframe_hashes, match_frac, phash
from sora_model.video.synth import reencode

CFG = NearDupConfig()


@pytest.mark.parametrize("name", ["city.mpg", "tree.avi", "megamind.avi"])
def test_reencoded_resized_trimmed_and_low_bitrate_copies_match(footage: dict, tmp_path: Path, name: str):
    original = keyframe_hashes(str(footage[name]), CFG.max_keyframes)
    variants = {"other_gop": dict(gop_s=1.5, crf=28), "half_size": dict(scale=0.5),
                "trimmed": dict(trim_s=1.5, gop_s=0.7), "low_bitrate": dict(crf=38)}
    for tag, kwargs in variants.items():
        reencode(footage[name], tmp_path / f"{tag}.mp4", **kwargs)
        copy = keyframe_hashes(str(tmp_path / f"{tag}.mp4"), CFG.max_keyframes)
        assert match_frac(original, copy, CFG.max_distance_bits) >= CFG.min_match_frac, tag


def test_distinct_videos_do_not_match_even_with_similar_colours(footage: dict, corpus: Path, manifest: dict):
    paths = [str(p) for p in footage.values()] + [str(corpus / v["name"]) for v in manifest["videos"]]
    sigs = {p: keyframe_hashes(p, CFG.max_keyframes) for p in paths}
    assert all(sigs.values())
    worst = max(match_frac(sigs[a], sigs[b], CFG.max_distance_bits) for a, b in itertools.combinations(paths, 2))
    assert worst < CFG.min_match_frac / 2


def test_hashes_fewer_bits_apart_than_bands_always_share_a_band():
    rng = np.random.default_rng(0)
    for _ in range(200):
        h = int(rng.integers(-(1 << 63), (1 << 63) - 1))
        flips = rng.choice(64, size=CFG.bands - 1, replace=False)
        g = h
        for bit in flips:
            g ^= 1 << int(bit)
        g = g - (1 << 64) if g >= 1 << 63 else g
        assert set(bands(h, CFG.bands)) & set(bands(g, CFG.bands))


def test_phash_ignores_brightness_and_sees_structure():
    y, x = np.mgrid[0:32, 0:32]
    pic = (128 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0)).astype(np.uint8)
    assert phash(pic) == phash(np.clip(pic.astype(int) + 40, 0, 255).astype(np.uint8))
    assert match_frac([phash(pic)], [phash(pic.T.copy())], CFG.max_distance_bits) == 0.0
