"""Near-duplicate signatures on real footage: variants match, distinct videos do not."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from sora_model.video.signature import (
    NearDupConfig,
    SignedVideo,
    bands,
    candidate_pairs,
    choose_near_duplicates,
    keyframe_hashes,
    match_frac,
    phash,
)
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


def _near_copy(signature: list[int], rng: np.random.Generator, bits: int) -> list[int]:
    out = []
    for h in signature:
        u = h & ((1 << 64) - 1)
        for bit in rng.choice(64, size=bits, replace=False):
            u ^= 1 << int(bit)
        out.append(u - (1 << 64) if u >= 1 << 63 else u)
    return out


def _signed(rng: np.random.Generator, n_new: int, n_lake: int) -> tuple[list[SignedVideo], list[SignedVideo]]:
    # Random signatures, and near copies (a few bits flipped per hash) of some of them, new and in the lake.
    base = [[int(h) for h in rng.integers(-(1 << 63), (1 << 63) - 1, size=int(rng.integers(1, 12)))]
            for _ in range(n_new + n_lake)]
    for i in range(0, len(base) - 1, 3):
        base[i + 1] = _near_copy(base[i], rng, int(rng.integers(0, 6)))
    videos = [SignedVideo(video_id=f"v{i:03d}", uri=f"/c/{i}.mp4", signature=tuple(s), in_lake=i >= n_new,
                          labelled=bool(i % 2), duration_s=float(i % 4), pixels=100) for i, s in enumerate(base)]
    order = rng.permutation(len(videos))
    videos = [videos[i] for i in order]
    return [v for v in videos if not v.in_lake], [v for v in videos if v.in_lake]


@pytest.mark.parametrize("count", [2, 4, 8, 16])
def test_candidates_are_the_pairs_sharing_a_band_at_one_position_never_two_lake_videos(count: int):
    rng = np.random.default_rng(count)
    new, lake = _signed(rng, 14, 16)
    got = candidate_pairs(new, lake, count)
    expected = set()
    for x, y in itertools.combinations([*new, *lake], 2):
        if x.in_lake and y.in_lake:
            continue
        if {b for h in x.signature for b in bands(h, count)} & {b for h in y.signature for b in bands(h, count)}:
            expected.add((min(x.video_id, y.video_id), max(x.video_id, y.video_id)))
    assert got == expected and got  # planted copies make some pairs
    assert candidate_pairs(new, lake, count, chunk=7) == expected  # made distinct many times on the way
    assert candidate_pairs(new, [], count) == {p for p in expected if not {*p} & {v.video_id for v in lake}}


def test_a_near_copy_is_rejected_for_the_best_ranked_match_and_a_lake_video_never():
    rng = np.random.default_rng(1)
    sig = [int(h) for h in rng.integers(-(1 << 63), (1 << 63) - 1, size=10)]
    other = [int(h) for h in rng.integers(-(1 << 63), (1 << 63) - 1, size=10)]

    def video(vid: str, signature: list[int], **kw) -> SignedVideo:
        return SignedVideo(**{"video_id": vid, "uri": f"/{vid}.mp4", "signature": tuple(signature),
                              "in_lake": False, "labelled": False, "duration_s": 5.0, "pixels": 100, **kw})

    lake = video("lake", sig, in_lake=True, labelled=True)
    longer = video("longer", _near_copy(sig, rng, 2), duration_s=9.0)
    copy = video("copy", _near_copy(sig, rng, 3))
    unrelated = video("unrelated", other)
    videos = {v.video_id: v for v in (lake, longer, copy, unrelated)}
    pairs = {(a, b) for a in videos for b in videos if a < b}
    chosen = choose_near_duplicates(pairs, videos, CFG)
    assert {k: (w.video_id, f) for k, (w, f) in chosen.items()} == {"copy": ("lake", 1.0), "longer": ("lake", 1.0)}
    without_lake = {k: v for k, v in videos.items() if k != "lake"}
    chosen = choose_near_duplicates({p for p in pairs if "lake" not in p}, without_lake, CFG)
    assert {k: w.video_id for k, (w, _) in chosen.items()} == {"copy": "longer"}  # the longer one is kept
