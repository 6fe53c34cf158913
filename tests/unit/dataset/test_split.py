from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from sora_model.dataset.split import SplitConfig, assign_split


def _ids(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


def test_split_is_a_pure_function_of_the_video_id():
    cfg = SplitConfig()
    assert [assign_split(v, cfg) for v in _ids(50)] == [assign_split(v, cfg) for v in _ids(50)]


def test_fractions_are_respected_on_many_videos():
    counts = Counter(assign_split(v, SplitConfig(train_frac=0.7, val_frac=0.2)) for v in _ids(20000))
    assert counts["train"] / 20000 == pytest.approx(0.7, abs=0.015)
    assert counts["val"] / 20000 == pytest.approx(0.2, abs=0.015)
    assert counts["test"] / 20000 == pytest.approx(0.1, abs=0.015)


def test_seed_reshuffles():
    a = [assign_split(v, SplitConfig(seed=0)) for v in _ids(200)]
    b = [assign_split(v, SplitConfig(seed=1)) for v in _ids(200)]
    assert a != b


def test_fractions_over_one_are_refused():
    with pytest.raises(ValueError):
        SplitConfig(train_frac=0.9, val_frac=0.2)
