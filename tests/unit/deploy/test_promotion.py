from __future__ import annotations

import pytest

from sora_model.deploy.promotion import PromotionConfig, decide


def _m(f1: float, samples: int = 40) -> dict:
    return {"macro_f1": f1, "accuracy": f1, "samples": samples}


def test_the_first_model_is_promoted_because_there_is_none_in_use():
    d = decide(PromotionConfig(), _m(0.3), None)
    assert d.promote and d.reason == "no model in use yet" and d.gain is None


def test_a_candidate_at_least_min_gain_better_without_regression_is_promoted():
    d = decide(PromotionConfig(min_gain=0.05), _m(0.80), _m(0.70), _m(0.75), _m(0.76))
    assert d.promote and d.gain == pytest.approx(0.10) and d.regression == pytest.approx(0.01)
    assert "macro_f1 0.800 vs 0.700" in d.reason and "previous split 0.750 vs 0.760" in d.reason


def test_a_candidate_short_of_min_gain_is_kept_out_with_the_numbers():
    d = decide(PromotionConfig(min_gain=0.05), _m(0.72), _m(0.70))
    assert not d.promote and "gain +0.020 < min_gain 0.05" in d.reason


def test_a_gain_on_new_videos_does_not_hide_a_loss_on_the_old_ones():
    d = decide(PromotionConfig(max_regression=0.02), _m(0.90), _m(0.70), _m(0.60), _m(0.75))
    assert not d.promote and d.regression == pytest.approx(0.15)
    assert "regresses on the previous test split" in d.reason and "0.150 > max_regression 0.02" in d.reason


def test_accuracy_can_be_the_metric_and_bad_settings_name_the_value():
    a = {"macro_f1": 0.1, "accuracy": 0.9, "samples": 10}
    b = {"macro_f1": 0.9, "accuracy": 0.5, "samples": 10}
    assert decide(PromotionConfig(metric="accuracy"), a, b).promote
    assert not decide(PromotionConfig(metric="macro_f1"), a, b).promote
    with pytest.raises(ValueError, match="metric must be one of .*'f1'"):
        PromotionConfig(metric="f1")
    with pytest.raises(ValueError, match="max_regression must be in .* got -0.1"):
        PromotionConfig(max_regression=-0.1)
