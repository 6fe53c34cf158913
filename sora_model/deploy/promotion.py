"""Whether a candidate model replaces the one in use: both measured on the same held-out clips, the decision a
rule over those numbers with its reason spelled out (the cycle records it as a row)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

PromotionMetric = Literal["macro_f1", "accuracy"]
METRICS: tuple[str, ...] = get_args(PromotionMetric)


@dataclass(frozen=True, kw_only=True)
class PromotionConfig:
    metric: PromotionMetric = "macro_f1"
    """What candidate and model in use are compared on: macro_f1 (every class counts the same) or accuracy."""
    min_gain: float = 0.0
    """The candidate must score at least this much more than the model in use on the new dataset version's test
    split (absolute, metric in 0..1; 0: at least as good, since it has seen more data)."""
    max_regression: float = 0.02
    """...and at most this much less on the previous version's test split (what the model in use was chosen on),
    so a gain on new videos does not hide a loss on the old ones."""

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        if not -1 < self.min_gain < 1:
            raise ValueError(f"min_gain must be in (-1, 1), got {self.min_gain}")
        if not 0 <= self.max_regression < 1:
            raise ValueError(f"max_regression must be in [0, 1), got {self.max_regression}")


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    gain: float | None
    """Candidate minus model in use on the new test split (None without a model in use)."""
    regression: float | None
    """Model in use minus candidate on the previous test split (None when there is none)."""


def decide(cfg: PromotionConfig, candidate_new: dict[str, Any], production_new: dict[str, Any] | None,
           candidate_old: dict[str, Any] | None = None, production_old: dict[str, Any] | None = None) -> Decision:
    """The rule: no model in use -> promote; else promote when the gain on the new test split is at least
    ``min_gain`` and the regression on the previous test split at most ``max_regression``. Arguments are metric
    dicts (``train.metrics.classification_metrics``); *_old are None when there is no previous test split."""
    m = cfg.metric
    if production_new is None:
        return Decision(True, "no model in use yet", None, None)
    gain = candidate_new[m] - production_new[m]
    regression = (production_old[m] - candidate_old[m]) if candidate_old and production_old else None
    new = (f"{m} {candidate_new[m]:.3f} vs {production_new[m]:.3f} on the new test split "
           f"({candidate_new['samples']} clips)")
    if gain < cfg.min_gain:
        return Decision(False, f"not better: {new}, gain {gain:+.3f} < min_gain {cfg.min_gain:g}", gain, regression)
    if regression is not None and regression > cfg.max_regression:
        return Decision(False, f"regresses on the previous test split: {m} {candidate_old[m]:.3f} vs "
                               f"{production_old[m]:.3f}, {regression:.3f} > max_regression "
                               f"{cfg.max_regression:g} (new split: {new})", gain, regression)
    old = "" if regression is None else f"; previous split {candidate_old[m]:.3f} vs {production_old[m]:.3f}"
    return Decision(True, f"better: {new}, gain {gain:+.3f} >= {cfg.min_gain:g}{old}", gain, regression)


Metrics = dict[str, Any]


def compare_on_test_splits(lake_uri: str, dataset: str, version: int, previous: int | None, candidate_uri: str,
                           production_uri: str | None) -> tuple[Metrics, Metrics | None, Metrics | None,
                                                                Metrics | None]:
    """Test metrics of the candidate and the model in use on the test split of ``version`` and of ``previous``
    (candidate new, in use new, candidate old, in use old; None where there is nothing to compare): each model
    loaded once, each split read once. A ValueError when ``version`` has no test clips."""
    from sora_model.dataset.catalog import load_dataset
    from sora_model.deploy.evaluation import quality, split_arrays
    from sora_model.deploy.variants import load_predictor

    def test_split(v: int) -> tuple[Any, Any] | None:
        data = load_dataset(lake_uri, dataset, v)
        return split_arrays(data, "test") if data.shards.get("test") else None

    new = test_split(version)
    if new is None:
        raise ValueError(f"dataset {dataset} v{version} has no test clips to compare models on; give the corpus "
                         "more videos or raise split.test_frac")
    old = test_split(previous) if production_uri and previous is not None else None
    cand = load_predictor(candidate_uri, threads=1)
    prod = load_predictor(production_uri, threads=1) if production_uri else None
    cand_new = quality(cand, *new)
    prod_new = quality(prod, *new) if prod else None
    cand_old = quality(cand, *old) if prod and old else None
    prod_old = quality(prod, *old) if prod and old else None
    return cand_new, prod_new, cand_old, prod_old
