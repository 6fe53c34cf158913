from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from sora_model.deploy.monitoring import (
    Baseline,
    MonitorConfig,
    Scored,
    input_stats,
    measure,
    psi_from_counts,
    psi_numeric,
)


def test_psi_is_zero_for_the_same_mix_and_large_for_a_shifted_one():
    assert psi_from_counts({"a": 50, "b": 50}, {"a": 5, "b": 5}) == pytest.approx(0.0)
    assert psi_from_counts({"a": 50, "b": 50}, {"a": 90, "b": 10}) > 0.25
    # A category the baseline never had counts as drift, not as an error.
    assert psi_from_counts({"a": 1}, {"a": 1, "new": 1}) > 0.25


def test_a_resample_is_stable_and_a_darker_camera_is_a_major_shift():
    rng = np.random.default_rng(0)
    clips = [rng.integers(40, 220, (4, 16, 16, 3), dtype=np.uint8) * np.uint8(1) for _ in range(400)]
    scale = rng.uniform(0.6, 1.0, len(clips))
    clips = [(c * s).astype(np.uint8) for c, s in zip(clips, scale)]
    bright = [input_stats(c)[0] for c in clips]
    assert psi_numeric(bright[:200], bright[200:]) < 0.1
    darker = [input_stats((c * 0.6).astype(np.uint8))[0] for c in clips[200:]]
    assert psi_numeric(bright[:200], darker) > 0.25


def test_motion_energy_is_zero_for_a_still_clip_and_grows_with_change():
    still = np.full((4, 8, 8, 3), 100, np.uint8)
    moving = still.copy()
    moving[1::2] = 180
    assert input_stats(still) == (pytest.approx(100 / 255, abs=1e-3), 0.0)
    assert input_stats(moving)[1] == pytest.approx(80 / 255, abs=1e-3)


def _scored(n: int, predicted: str = "a", latency: float = 1.0) -> Scored:
    return Scored(predicted=[predicted] * n, confidence=[0.9] * n, brightness=list(np.linspace(0.4, 0.6, n)),
                  motion=list(np.linspace(0.05, 0.15, n)),
                  latency_ms=[latency] * n, resolutions={"64x64": 2}, codecs={"h264": 2},
                  true_labels=[0] * (n // 2) + [-1] * (n - n // 2), predicted_index=[0] * n)


def _baseline() -> Baseline:
    return Baseline(classes={"a": 50, "b": 50}, brightness=list(np.linspace(0.4, 0.6, 50)),
                    motion=list(np.linspace(0.05, 0.15, 50)), resolutions={"64x64": 9}, codecs={"h264": 9})


def test_alerts_name_what_drifted_and_labelled_clips_give_accuracy():
    row = measure(_baseline(), _scored(40), ["a", "b"], MonitorConfig(max_latency_ms_p95=0.5, min_accuracy=0.99))
    assert row["labelled_clips"] == 20 and row["accuracy"] == 1.0 and row["class_mix"] == {"a": 40}
    assert any(a.startswith("predicted classes drifted: PSI") for a in row["alerts"])
    assert "latency p95 1.00 ms > 0.5 ms" in row["alerts"]
    assert not any("brightness" in a or "codec" in a for a in row["alerts"])  # inputs as in training


def test_too_few_clips_are_not_judged_for_drift():
    row = measure(_baseline(), _scored(5), ["a", "b"], MonitorConfig())
    assert row["class_psi"] > 0.25 and row["alerts"] == []
    with pytest.raises(ValueError, match="min_clips must be >= 1, got 0"):
        MonitorConfig(min_clips=0)


def test_resolution_tiers_go_by_the_short_side() -> None:
    from sora_model.deploy.monitoring import resolution_tier

    assert [resolution_tier(w, h) for w, h in [(128, 96), (160, 144), (426, 240), (1920, 1080), (1080, 1920),
                                                (1280, 721), (7680, 4320), (0, 10), (None, None)]] == [
        "144p", "144p", "240p", "1080p", "1080p", "1080p", ">2160p", "unknown", "unknown"]


def test_sizes_that_differ_within_a_tier_do_not_drift() -> None:
    from sora_model.deploy.monitoring import psi_from_counts, resolution_tier

    # Every video its own size (crops, odd encodes): exact sizes would never match the baseline's.
    train = Counter(resolution_tier(200 + i, 150 + i) for i in range(40))
    scored = Counter(resolution_tier(230 + i, 190 + 2 * i) for i in range(20))
    assert psi_from_counts(train, scored) < 0.1
