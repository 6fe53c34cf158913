from __future__ import annotations

import re

import pytest

from sora_model.lake.ids import clip_id, new_run_id, seed_of, unit_hash


def test_clip_ids_come_from_content_and_span():
    assert clip_id("abc", 0, 10) == clip_id("abc", 0, 10) != clip_id("abc", 0, 11) != clip_id("abd", 0, 10)


def test_an_empty_span_has_no_id():
    with pytest.raises(ValueError, match="empty span"):
        clip_id("abc", 5, 5)


def test_hashes_are_deterministic_and_in_range():
    values = [unit_hash("split", 0, f"v{i}") for i in range(200)]
    assert values == [unit_hash("split", 0, f"v{i}") for i in range(200)]
    assert all(0 <= v < 1 for v in values) and 0.3 < sum(values) / len(values) < 0.7
    assert seed_of(1, "a") == seed_of(1, "a") != seed_of(1, "b")


def test_run_ids_sort_by_start_time_and_differ():
    a, b = new_run_id(), new_run_id()
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", a) and a != b
