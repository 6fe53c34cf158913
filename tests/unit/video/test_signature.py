"""Near-duplicate signatures on real footage: copies match, black frames and shared intros never do."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from sora_model.evalset import dupset
from sora_model.video.signature import (
    MIN_CONTRAST,
    NearDupConfig,
    SignedVideo,
    bands,
    candidate_pairs,
    choose_near_duplicates,
    evenly,
    frame_hash,
    match_frac,
    phash,
    similarity,
    video_signature,
)

CFG = NearDupConfig()
SMALL = ("carphone.mp4", "room_plant.mp4", "lego.mp4")
"""Three short real videos from small packages (a talking head, a hand-held phone, a still camera)."""


@pytest.fixture(scope="module")
def small_footage() -> dict[str, Path]:
    from sora_model.evalset.footage import fetch

    return fetch(SMALL)


def _pictures(path: Path) -> tuple[list[np.ndarray], float]:
    return dupset._read(path)


def _write(path: Path, pictures: list[np.ndarray], fps: float) -> Path:
    dupset._write(path, pictures, fps)
    return path


def _signed(name: str, signature: list[int]) -> SignedVideo:
    return SignedVideo(video_id=name, uri=f"/{name}.mp4", signature=tuple(signature), in_lake=False,
                       labelled=False, duration_s=1.0, pixels=1)


def _found(signatures: dict[str, list[int]]) -> dict[str, str]:
    """What curate rejects among these videos (loser -> winner), candidates and all."""
    videos = {name: _signed(name, sig) for name, sig in signatures.items()}
    pairs = candidate_pairs(list(videos.values()), [], CFG.bands, CFG.band_frames)
    return {loser: winner.video_id for loser, (winner, _) in choose_near_duplicates(pairs, videos, CFG).items()}


# No VP9 here: PyAV's libvpx encoder does not open in a process that has loaded decord (whose bundled FFmpeg
# libraries it then resolves), and make test runs this file in a process beside decoding tests.
@pytest.mark.parametrize("how", ["av1", "hevc", "mpeg4", "low_bitrate", "slow"])
def test_a_reencode_is_caught(small_footage: dict, tmp_path: Path, how: str):
    for name in ("carphone.mp4", "room_plant.mp4"):
        pictures, fps = _pictures(small_footage[name])
        copy = dupset._copy(pictures, fps, how, small_footage[name], tmp_path / f"{Path(name).stem}.{how}.mp4",
                            np.random.default_rng(0))
        original, copied = video_signature(str(small_footage[name]), CFG), video_signature(str(copy), CFG)
        assert similarity(original, copied, CFG) >= CFG.min_match_frac, (name, how)
        assert _found({"original": original, "copy": copied}), (name, how)


def test_a_trimmed_half_size_letterboxed_copy_is_caught(small_footage: dict, tmp_path: Path):
    pictures, fps = _pictures(small_footage["carphone.mp4"])
    h, w = pictures[0].shape[:2]
    spoiled = []
    for p in pictures[len(pictures) // 4:]:
        small = dupset._resize(p, w // 4 * 2, (h // 2 - h // 5) // 2 * 2)
        frame = np.zeros((h // 2 // 2 * 2, w // 4 * 2, 3), np.uint8)
        top = (frame.shape[0] - small.shape[0]) // 2
        frame[top:top + small.shape[0]] = small
        spoiled.append(frame)
    copy = _write(tmp_path / "copy.mp4", spoiled, fps)
    original = video_signature(str(small_footage["carphone.mp4"]), CFG)
    assert similarity(original, video_signature(str(copy), CFG), CFG) >= CFG.min_match_frac


def test_black_frames_never_make_two_videos_duplicates(small_footage: dict, tmp_path: Path):
    # Two distinct videos, each mostly black with one stretch of its own pictures, and a video that is all black.
    signatures = {}
    for name in ("carphone.mp4", "lego.mp4"):
        pictures, fps = _pictures(small_footage[name])
        black = [np.zeros_like(pictures[0])] * int(3 * fps)
        signatures[name] = video_signature(str(_write(tmp_path / name, black + pictures[:12] + black, fps)), CFG)
    h, w = 240, 320
    all_black = _write(tmp_path / "black.mp4", [np.zeros((h, w, 3), np.uint8)] * 50, 25.0)
    assert video_signature(str(all_black), CFG) == []  # a black frame has no hash at all
    assert frame_hash(np.zeros((96, 96), np.uint8)) is None
    assert frame_hash(np.full((96, 96), 200, np.uint8) + np.eye(96, dtype=np.uint8)) is None  # near-uniform
    assert _found(signatures) == {}


def test_two_distinct_videos_behind_the_same_black_intro_are_both_kept(small_footage: dict, tmp_path: Path):
    signatures = {}
    for name in ("carphone.mp4", "room_plant.mp4", "lego.mp4"):
        pictures, fps = _pictures(small_footage[name])
        intro = [np.zeros_like(pictures[0])] * int(1.5 * fps)
        signatures[name] = video_signature(str(_write(tmp_path / name, intro + pictures, fps)), CFG)
    assert all(signatures.values())
    assert _found(signatures) == {}
    worst = max(match_frac(a, b, CFG.max_distance_bits) for a, b in itertools.combinations(signatures.values(), 2))
    assert worst < CFG.min_match_frac


def test_one_matching_frame_is_no_evidence():
    rng = np.random.default_rng(0)
    shared = int(rng.integers(-(1 << 63), (1 << 63) - 1))
    a = [shared]
    b = [shared, *(int(h) for h in rng.integers(-(1 << 63), (1 << 63) - 1, size=5))]
    assert match_frac(a, b, CFG.max_distance_bits) == 1.0
    assert similarity(a, b, CFG) == 0.0  # min_matches: 2


def test_hashes_fewer_bits_apart_than_bands_always_share_a_band():
    rng = np.random.default_rng(0)
    for count in (2, 8):
        for _ in range(200):
            h = int(rng.integers(-(1 << 63), (1 << 63) - 1))
            flips = rng.choice(64, size=count - 1, replace=False)
            g = h
            for bit in flips:
                g ^= 1 << int(bit)
            g = g - (1 << 64) if g >= 1 << 63 else g
            assert set(bands(h, count)) & set(bands(g, count))


def test_phash_ignores_brightness_and_sees_structure():
    y, x = np.mgrid[0:32, 0:32]
    pic = (128 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0)).astype(np.uint8)
    assert phash(pic) == phash(np.clip(pic.astype(int) + 40, 0, 255).astype(np.uint8))
    assert match_frac([phash(pic)], [phash(pic.T.copy())], CFG.max_distance_bits) == 0.0


def test_bars_are_cut_before_hashing_and_flat_frames_get_no_hash():
    rng = np.random.default_rng(1)
    pic = rng.integers(0, 256, (12, 16)).repeat(6, axis=0).repeat(6, axis=1).astype(np.uint8)  # 72x96
    boxed = np.zeros((96, 96), np.uint8)
    boxed[12:84] = pic
    assert frame_hash(boxed) == frame_hash(pic)
    assert frame_hash(np.full((96, 96), MIN_CONTRAST / 2, np.uint8)) is None


def test_evenly_keeps_first_and_last_and_matches_integer_spacing():
    assert evenly(list(range(10)), 4) == [0, 3, 6, 9]
    assert evenly([1, 2], 5) == [1, 2]
    assert evenly(list(range(7)), 1) == [0]


def _near_copy(signature: list[int], rng: np.random.Generator, bits: int) -> list[int]:
    out = []
    for h in signature:
        u = h & ((1 << 64) - 1)
        for bit in rng.choice(64, size=bits, replace=False):
            u ^= 1 << int(bit)
        out.append(u - (1 << 64) if u >= 1 << 63 else u)
    return out


def _random_videos(rng: np.random.Generator, n_new: int, n_lake: int) -> tuple[list[SignedVideo], list[SignedVideo]]:
    # Random signatures, and near copies (a few bits flipped per hash) of some of them, new and in the lake.
    base = [[int(h) for h in rng.integers(-(1 << 63), (1 << 63) - 1, size=int(rng.integers(1, 40)))]
            for _ in range(n_new + n_lake)]
    for i in range(0, len(base) - 1, 3):
        base[i + 1] = _near_copy(base[i], rng, int(rng.integers(0, 6)))
    videos = [SignedVideo(video_id=f"v{i:03d}", uri=f"/c/{i}.mp4", signature=tuple(s), in_lake=i >= n_new,
                          labelled=bool(i % 2), duration_s=float(i % 4), pixels=100) for i, s in enumerate(base)]
    order = rng.permutation(len(videos))
    videos = [videos[i] for i in order]
    return [v for v in videos if not v.in_lake], [v for v in videos if v.in_lake]


@pytest.mark.parametrize(("count", "anchors"), [(2, 32), (4, 8), (8, 3), (16, 40)])
def test_candidates_are_the_pairs_whose_anchors_share_a_band_never_two_lake_videos(count: int, anchors: int):
    rng = np.random.default_rng(count)
    new, lake = _random_videos(rng, 14, 16)
    got = candidate_pairs(new, lake, count, anchors)
    expected = set()
    for x, y in itertools.combinations([*new, *lake], 2):
        if x.in_lake and y.in_lake:
            continue
        keys = [{b for h in evenly(v.signature, anchors) for b in bands(h, count)} for v in (x, y)]
        if keys[0] & keys[1]:
            expected.add((min(x.video_id, y.video_id), max(x.video_id, y.video_id)))
    assert got == expected and got  # planted copies make some pairs
    assert candidate_pairs(new, lake, count, anchors, chunk=7) == expected  # made distinct many times on the way
    assert candidate_pairs(new, [], count, anchors) == {p for p in expected if not {*p} & {v.video_id for v in lake}}


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
