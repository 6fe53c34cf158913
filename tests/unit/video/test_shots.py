from __future__ import annotations

from pathlib import Path

import decord
import numpy as np
import pytest

from sora_model.video.clips import ClipConfig, WindowFrames, sample_indices, shot_spans
from sora_model.video.shots import CutDetector, ShotWindows, detect_cuts, frame_signature, signature_distance


def _frames(path: Path) -> list[np.ndarray]:
    vr = decord.VideoReader(str(path), width=64, height=64, num_threads=1)
    return [vr.next().asnumpy() for _ in range(len(vr))]


def test_detector_finds_every_hard_cut_of_the_corpus_and_nothing_else(corpus: Path, manifest: dict):
    cfg = ClipConfig()
    checked_cuts = 0
    for spec in manifest["videos"]:
        frames = _frames(corpus / spec["name"])
        cuts = detect_cuts(iter(frames), cfg.cut_threshold, round(cfg.cut_min_shot_s * spec["fps"]))
        expected = [spec["cut_frame"]] if spec["cut_frame"] is not None else []
        assert cuts == expected, spec["name"]
        checked_cuts += len(expected)
    assert checked_cuts >= 2  # the fixture corpus has joined shots to find


def test_identical_frames_have_distance_zero_and_disjoint_colours_one():
    a = np.zeros((32, 32, 3), np.uint8)
    b = np.full((32, 32, 3), 255, np.uint8)
    assert signature_distance(frame_signature(a), frame_signature(a)) == 0
    assert signature_distance(frame_signature(a), frame_signature(b)) == pytest.approx(1.0)


def test_min_shot_length_suppresses_flashes():
    dark, bright = np.zeros((16, 16, 3), np.uint8), np.full((16, 16, 3), 255, np.uint8)
    det = CutDetector(threshold=0.5, min_shot_frames=5)
    flags = [det.push(f) for f in [dark] * 6 + [bright] + [dark] * 3]
    assert flags == [False] * 6 + [True] + [False] * 3


@pytest.mark.parametrize("seed", range(6))
def test_single_pass_windows_equal_the_span_plan(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    fps = float(rng.choice([10, 15, 24]))
    cfg = ClipConfig(clip_len_s=float(rng.choice([1.0, 2.0])), stride_s=float(rng.choice([0.5, 1.0, 2.0])),
                     min_clip_len_s=0.5)
    cuts = sorted(set(rng.integers(1, n, size=int(rng.integers(0, 4))).tolist()))
    win = WindowFrames.of(fps, cfg)
    windows = ShotWindows(win, lambda span: [sample_indices(span, 4)])
    got = []
    for i in range(n):
        frame = np.full((2, 2, 3), i % 256, np.uint8)
        got.extend(windows.push(frame, i in cuts))
    got.extend(windows.finish())
    assert [span for span, _ in got] == shot_spans(n, fps, cuts, cfg)
    for span, (rows,) in got:
        # each handed-out frame is the frame with that index
        assert rows[:, 0, 0, 0].tolist() == [i % 256 for i in sample_indices(span, 4)]


def test_threshold_separates_cuts_from_motion_with_a_margin(tmp_path: Path):
    # 30 two-shot videos beyond the fixture corpus: every cut found at its frame, no cut inside a shot.
    from dataclasses import replace

    from sora_model.video.synth import plan_corpus, render_video

    specs = [s for s in plan_corpus(120, seed=5) if s.cut_s is not None][:30]
    cfg = ClipConfig()
    for spec in specs:
        spec = replace(spec, width_px=min(spec.width_px, 160), height_px=min(spec.height_px, 120))
        render_video(spec, tmp_path)
        frames = _frames(tmp_path / spec.name)
        cuts = detect_cuts(iter(frames), cfg.cut_threshold, round(cfg.cut_min_shot_s * spec.fps))
        assert cuts == [spec.cut_frame], spec.name
