"""Quality-filter ground truth by construction: two-second stretches of real footage (``footage``, one half at a
time) labelled by what they are, in one h264 video; and the scoring of curate's quality verdicts against them.

Clean stretches come from the sources that always move (hand-held, fast motion, animation, motion graphics, old
film, talking heads, dark footage), as they are and darkened to a mean luma of about 15-25 (night footage: dark
but real, never blank). Each clean stretch also gives a spoiled one: blank (black, one flat colour, or a nearly
uniform picture), blurry (a box blur of 1/12 of the picture's width), frozen (its first picture held), or
letterboxed (black bars over a fifth of the height at the top and at the bottom); and a still source is frozen by
nature. Stretches are separated by hard cuts; each is scored as curate scores a clip: its frames decoded at the
output size, 8 of them sampled, ``quality.measure`` and ``quality.verdict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sora_model.evalset import footage, shotset, truth
from sora_model.evalset.footage import Half
from sora_model.evalset.scoring import Score
from sora_model.video import quality

LABELS = ("kept", *quality.FILTER_REASONS)
"""What a stretch should get: kept, or the filter that should catch it."""
MOVING_KINDS = ("handheld", "fast_motion", "animation", "motion_graphics", "old_film", "dark", "talking_head")
"""Kinds of source whose every two seconds move (static cameras and screen recordings may hold still)."""
STILL_SOURCES = ("vcd_menu",)
"""Sources that show one still picture throughout: frozen by nature."""
FPS = 25
WIDTH_PX, HEIGHT_PX = 320, 240
STRETCH_FRAMES = 50
SET_VERSION = 1


@dataclass(frozen=True)
class Stretch:
    label: str
    how: str
    """'real', 'dark', or how it was spoiled."""
    source: str
    start: int
    end: int
    """Frames [start, end) of the set's video."""


def _pictures(path: Path, indices: Sequence[int]) -> list[np.ndarray]:
    got = shotset.pictures_at(path, set(indices), WIDTH_PX, HEIGHT_PX)
    return [got[i] for i in indices]


def _spoil(frames: list[np.ndarray], label: str, rng: np.random.Generator) -> tuple[list[np.ndarray], str]:
    from sora_model.video.writers import box_blur, letterbox

    if label == "blank":
        how = str(rng.choice(["black", "flat_colour", "near_uniform"]))
        if how == "black":
            base = np.full_like(frames[0], int(rng.integers(0, 12)))
        elif how == "flat_colour":
            base = np.broadcast_to(rng.integers(0, 256, 3).astype(np.uint8), frames[0].shape).copy()
        else:  # the scene washed out to a nearly uniform picture
            blurred = box_blur(frames[0], WIDTH_PX // 4).astype(np.float32)
            base = np.clip(blurred.mean() + (blurred - blurred.mean()) * 0.05, 0, 255).astype(np.uint8)
        noise = [np.clip(base + rng.normal(0, 1.0, base.shape), 0, 255).astype(np.uint8) for _ in frames]
        return noise, how
    if label == "blurry":
        return [box_blur(f, WIDTH_PX // 12) for f in frames], "box_blur"
    if label == "frozen":
        return [frames[0]] * len(frames), "held"
    if label == "letterboxed":
        return [letterbox(f, 0.2) for f in frames], "bars"
    raise ValueError(f"unknown label {label!r}")


def build(half: Half, out_dir: Path, seed: int = 0, per_source: int = 3) -> tuple[Path, list[Stretch]]:
    """Write the half's set (one video and ``truth.json``) under ``out_dir``."""
    from sora_model.video.writers import encode_frames

    rng = np.random.default_rng(seed)
    sources = [s for s in footage.sources(half) if s.kind in MOVING_KINDS or s.name in STILL_SOURCES]
    paths = footage.fetch([f for s in sources for f in s.shot_files])
    frames: list[np.ndarray] = []
    stretches: list[Stretch] = []

    def add(label: str, how: str, source: str, pictures: list[np.ndarray]) -> None:
        stretches.append(Stretch(label, how, source, len(frames), len(frames) + len(pictures)))
        frames.extend(pictures)

    spoils = list(quality.FILTER_REASONS)
    k = 0
    for source in sources:
        windows = [(s, s.resampled(FPS)) for s in shotset.ShotStretch.all_of([source], paths)]
        windows = [(s, idx) for s, idx in windows if len(idx) >= STRETCH_FRAMES]
        if not windows:
            continue
        for _ in range(per_source):
            shot, idx = windows[int(rng.integers(len(windows)))]
            start = int(rng.integers(0, len(idx) - STRETCH_FRAMES + 1))
            pictures = _pictures(paths[shot.file], idx[start:start + STRETCH_FRAMES])
            if source.name in STILL_SOURCES:
                add("frozen", "still", source.name, pictures)
                continue
            add("kept", "real", source.name, pictures)
            gain = rng.uniform(0.12, 0.2)
            add("kept", "dark", source.name, [(p * gain).astype(np.uint8) for p in pictures])
            label = spoils[k % len(spoils)]
            k += 1
            spoiled, how = _spoil(pictures, label, rng)
            add(label, how, source.name, spoiled)
    out_dir.mkdir(parents=True, exist_ok=True)
    video = out_dir / f"quality_{half}.mp4"
    encode_frames(video, iter(frames), WIDTH_PX, HEIGHT_PX, FPS, False)
    truth.write_truth(out_dir, [asdict(s) for s in stretches])
    return video, stretches


def cached(half: Half, seed: int = 0, cache: Path | None = None) -> tuple[Path, list[Stretch]]:
    """``build``'s set (its video, its stretches) from a cache beside the footage's, built the first time."""
    folder = truth.cached_set(f"quality-v{SET_VERSION}-{half}-seed{seed}",
                                lambda out: build(half, out, seed=seed), cache)
    return folder / f"quality_{half}.mp4", [Stretch(**d) for d in truth.read_truth(folder)]


def verdicts(video: Path, stretches: Sequence[Stretch], cfg: quality.QualityConfig, side_px: int = 64,
             frames_per_clip: int = 8) -> list[str]:
    """Curate's verdict on each stretch as one clip: 'kept' or the filter reason."""
    from sora_model.video.clips import Span, sample_indices

    frames, _ = shotset.decode(str(video), side_px)
    out = []
    for s in stretches:
        rows = frames[sample_indices(Span(s.start, s.end), frames_per_clip)]
        v = quality.verdict(quality.measure(rows), cfg)
        out.append(v[0] if v else "kept")
    return out


def score(stretches: Sequence[Stretch], got: Sequence[str]) -> dict[str, Score]:
    """Per filter reason: stretches it caught that it should (tp), caught that it should not (fp), missed (fn);
    and 'dark_kept', dark real stretches wrongly filtered (fp) or kept (tp)."""
    out = {r: Score() for r in quality.FILTER_REASONS}
    dark = Score()
    for s, v in zip(stretches, got):
        for r, sc in out.items():
            if v == r and s.label == r:
                sc.tp += 1
            elif v == r:
                sc.fp += 1
            elif s.label == r:
                sc.fn += 1
        if s.how == "dark":
            dark.tp += v == "kept"
            dark.fp += v != "kept"
    out["dark_kept"] = dark
    return out
