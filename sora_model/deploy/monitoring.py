"""Watching what a deployed model sees and says: per scoring run, the predicted-class mix, the confidence, the
inputs (brightness, motion, resolution, codec) and the latency, each compared with the training data by the
population stability index; accuracy where the scored videos have labels. Thresholds turn numbers into alerts.

PSI = sum over bins of (a - e) * ln(a / e), with e and a the shares of the baseline and the current data in each
bin (bins: categories, or the baseline's deciles for a number). Rule of thumb: < 0.1 stable, 0.1-0.25 a moderate
shift, > 0.25 a major one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_EPS = 1e-4


def input_stats(clip: np.ndarray) -> tuple[float, float]:
    """(brightness, motion energy) of one clip's frames (T, H, W, 3 uint8), both 0..1: mean luma, and mean absolute
    change between consecutive frames. Computed on the frames the model sees, at scoring and on the train split."""
    luma = clip[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    motion = float(np.abs(np.diff(luma, axis=0)).mean()) / 255.0 if len(luma) > 1 else 0.0
    return float(luma.mean()) / 255.0, motion


RESOLUTION_TIERS_PX = (144, 240, 360, 480, 720, 1080, 1440, 2160)
"""Short sides that name a resolution tier (240p: short side <= 240 px and > 144 px)."""


def resolution_tier(width_px: int | None, height_px: int | None) -> str:
    """A video's resolution tier by its short side ('240p', '1080p', '>2160p'; 'unknown' without a size).

    Drift is judged on tiers, not on exact sizes: sizes vary from video to video (crops, odd encodes), so a mix of
    exact sizes has a long tail of categories the baseline never saw, and its PSI is large when nothing moved."""
    if not width_px or not height_px:
        return "unknown"
    short = min(width_px, height_px)
    return next((f"{t}p" for t in RESOLUTION_TIERS_PX if short <= t), f">{RESOLUTION_TIERS_PX[-1]}p")


def psi_from_counts(expected: dict[str, float], actual: dict[str, float]) -> float:
    """PSI between two categorical distributions given as counts (categories of either side)."""
    keys = sorted(set(expected) | set(actual))
    e = np.array([expected.get(k, 0) for k in keys], np.float64)
    a = np.array([actual.get(k, 0) for k in keys], np.float64)
    if e.sum() == 0 or a.sum() == 0:
        return 0.0
    e = np.clip(e / e.sum(), _EPS, None)
    a = np.clip(a / a.sum(), _EPS, None)
    return float(((a - e) * np.log(a / e)).sum())


def psi_numeric(baseline: Sequence[float], current: Sequence[float], bins: int = 10) -> float:
    """PSI of a number: bins are the baseline's quantiles (deciles by default)."""
    base, cur = np.asarray(baseline, np.float64), np.asarray(current, np.float64)
    if len(base) == 0 or len(cur) == 0:
        return 0.0
    edges = np.unique(np.quantile(base, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, base, side="right"), minlength=len(edges) + 1)
    a = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    return psi_from_counts({str(i): v for i, v in enumerate(e)}, {str(i): v for i, v in enumerate(a)})


@dataclass(frozen=True, kw_only=True)
class MonitorConfig:
    max_class_psi: float = 0.25
    """Alert when the predicted-class mix drifts from the train split's labels by more PSI than this."""
    max_input_psi: float = 0.25
    """Alert when brightness, motion energy, resolution or codec mix drift from the train split by more PSI."""
    min_confidence_p50: float = 0.0
    """Alert when the median top-class probability falls below this (0: never)."""
    max_latency_ms_p95: float | None = None
    """Alert when the 95th percentile of the model's time per clip exceeds this (None: never)."""
    min_accuracy: float | None = None
    """Alert when accuracy on the scored clips whose videos have labels falls below this (None: never)."""
    min_clips: int = 20
    """Drift is not judged on fewer scored clips than this (too few to tell a shift from chance)."""

    def __post_init__(self) -> None:
        if self.max_class_psi <= 0 or self.max_input_psi <= 0:
            raise ValueError(f"max_class_psi and max_input_psi must be > 0, got {self.max_class_psi} and "
                             f"{self.max_input_psi}")
        if not 0 <= self.min_confidence_p50 <= 1:
            raise ValueError(f"min_confidence_p50 must be in [0, 1], got {self.min_confidence_p50}")
        if self.min_clips < 1:
            raise ValueError(f"min_clips must be >= 1, got {self.min_clips}")


@dataclass
class Baseline:
    """The train split a model learned from, as monitoring compares with it."""
    classes: dict[str, int]
    """Train clips per label name."""
    brightness: list[float]
    motion: list[float]
    resolutions: dict[str, int]
    """Videos per resolution tier (``resolution_tier``)."""
    """Train videos per '<width>x<height>'."""
    codecs: dict[str, int]


@dataclass
class Scored:
    """One scoring run's clips."""
    predicted: list[str]
    confidence: list[float]
    """Top-class probability per clip."""
    brightness: list[float]
    motion: list[float]
    latency_ms: list[float]
    resolutions: dict[str, int]
    """Videos per resolution tier (``resolution_tier``)."""
    """Scored videos per '<width>x<height>'."""
    codecs: dict[str, int]
    true_labels: list[int] = field(default_factory=list)
    """Label index per clip, -1 where its video has none."""
    predicted_index: list[int] = field(default_factory=list)


def measure(baseline: Baseline, scored: Scored, classes: list[str], cfg: MonitorConfig) -> dict[str, Any]:
    """The monitoring row's numbers and alerts for one scoring run."""
    from sora_model.train.metrics import classification_metrics, confusion_matrix

    n = len(scored.predicted)
    q = np.quantile(scored.confidence, [0.1, 0.5, 0.9]) if n else [None] * 3
    lat = np.quantile(scored.latency_ms, [0.5, 0.95]) if scored.latency_ms else [None] * 2
    row: dict[str, Any] = {
        "clips": n, "class_mix": dict(Counter(scored.predicted)),
        "class_psi": psi_from_counts(baseline.classes, Counter(scored.predicted)),
        "confidence_p10": _f(q[0]), "confidence_p50": _f(q[1]), "confidence_p90": _f(q[2]),
        "brightness_mean": _mean(scored.brightness), "brightness_psi": psi_numeric(baseline.brightness,
                                                                                 scored.brightness),
        "motion_mean": _mean(scored.motion), "motion_psi": psi_numeric(baseline.motion, scored.motion),
        "resolution_mix": scored.resolutions, "resolution_psi": psi_from_counts(baseline.resolutions,
                                                                               scored.resolutions),
        "codec_mix": scored.codecs, "codec_psi": psi_from_counts(baseline.codecs, scored.codecs),
        "latency_ms_p50": _f(lat[0]), "latency_ms_p95": _f(lat[1]),
        "labelled_clips": 0, "accuracy": None, "macro_f1": None,
    }
    labelled = [(t, p) for t, p in zip(scored.true_labels, scored.predicted_index) if t >= 0]
    if labelled:
        t, p = map(np.asarray, zip(*labelled))
        m = classification_metrics(confusion_matrix(t, p, len(classes)))
        row.update(labelled_clips=len(labelled), accuracy=float(m["accuracy"]), macro_f1=float(m["macro_f1"]))
    alerts = []
    if n >= cfg.min_clips:
        if row["class_psi"] > cfg.max_class_psi:
            alerts.append(f"predicted classes drifted: PSI {row['class_psi']:.2f} > {cfg.max_class_psi:g}")
        for name in ("brightness", "motion", "resolution", "codec"):
            if row[f"{name}_psi"] > cfg.max_input_psi:
                alerts.append(f"input {name} drifted: PSI {row[f'{name}_psi']:.2f} > {cfg.max_input_psi:g}")
    if n and row["confidence_p50"] < cfg.min_confidence_p50:
        alerts.append(f"median confidence {row['confidence_p50']:.2f} < {cfg.min_confidence_p50:g}")
    if cfg.max_latency_ms_p95 is not None and row["latency_ms_p95"] is not None \
            and row["latency_ms_p95"] > cfg.max_latency_ms_p95:
        alerts.append(f"latency p95 {row['latency_ms_p95']:.2f} ms > {cfg.max_latency_ms_p95:g} ms")
    if cfg.min_accuracy is not None and row["accuracy"] is not None and row["accuracy"] < cfg.min_accuracy:
        alerts.append(f"accuracy {row['accuracy']:.3f} on {row['labelled_clips']} labelled clips < "
                      f"{cfg.min_accuracy:g}")
    row["alerts"] = alerts
    return row


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _f(x: Any) -> float | None:  # noqa: ANN401 - numpy scalar or None
    return None if x is None else float(x)
