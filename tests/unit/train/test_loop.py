from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from sora_model.train.loop import OptimConfig, TrainConfig, _rng_state, _set_rng_state, lr_factor, seed_everything


def test_learning_rate_warms_up_then_decays_to_zero():
    factors = [lr_factor(s, warmup=4, total=20) for s in range(21)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0] and factors[4] == 1.0
    assert all(a >= b for a, b in zip(factors[4:], factors[5:])) and factors[20] == pytest.approx(0.0)


def test_rng_state_restores_every_generator():
    seed_everything(3)
    state = _rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    _set_rng_state(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_bad_training_settings_are_refused_with_the_value():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        OptimConfig(lr=0)
