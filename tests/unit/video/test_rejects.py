from __future__ import annotations

import pytest

from sora_model.video import rejects
from sora_model.video.rejects import NOT_REJECTED, Rejected


def test_reasons_and_stages_are_a_closed_set():
    with pytest.raises(ValueError, match="unknown reject reason"):
        Rejected("probe", "looks_bad", "")
    with pytest.raises(ValueError, match="unknown stage"):
        Rejected("train", rejects.UNREADABLE, "")


def test_a_reject_becomes_the_same_columns_everywhere():
    r = Rejected("decode", rejects.UNDECODABLE, "decord could not open").with_video_id("abc")
    assert r.video_id == "abc"
    assert r.columns() == {"reject_stage": "decode", "reject_reason": "undecodable",
                           "reject_detail": "decord could not open"}
    assert set(NOT_REJECTED) == set(r.columns()) and not any(NOT_REJECTED.values())
