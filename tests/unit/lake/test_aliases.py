from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sora_model.lake.aliases import AliasEntry, AliasHistory, is_alias_name

T0 = datetime(2026, 12, 1, 12, 0)


def _apply(history: AliasHistory, entry: AliasEntry | None) -> AliasHistory:
    assert entry is not None
    return AliasHistory(history.alias, [*history.entries, entry])


def _point(history: AliasHistory, model: str, deployed: str | None = None) -> AliasHistory:
    n = len(history.entries)
    return _apply(history, history.point(f"r/{model}/fp32", f"/lake/models/r/epoch-{model}",
                                         f"r/{model}/{deployed}" if deployed else None,
                                         f"/lake/models/r/{deployed}" if deployed else None,
                                         "promote", f"better #{n}", "cycle-1", T0 + timedelta(minutes=n)))


def test_each_change_is_a_new_entry_and_pointing_at_the_same_model_again_writes_nothing():
    h = _point(AliasHistory("production", []), "1", "int8-static")
    assert h.current.seq == 1 and h.current.previous_seq is None
    assert h.current.serving_id == "r/1/int8-static" and h.current.serving_uri == "/lake/models/r/int8-static"
    assert h.point("r/1/fp32", "/x", "r/1/int8-static", "/y", "set", "again", "cli", T0) is None
    h = _point(h, "2")
    assert (h.current.seq, h.current.previous_seq, h.current.serving_id) == (2, 1, "r/2/fp32")


def test_rollback_walks_back_through_the_history_never_forth_and_back():
    h = _point(_point(_point(AliasHistory("production", []), "1"), "2"), "3")
    h = _apply(h, h.rollback("model 3 misbehaves", "cli", T0 + timedelta(hours=1)))
    assert (h.current.model_id, h.current.action, h.current.seq) == ("r/2/fp32", "rollback", 4)
    assert h.current.reason == "model 3 misbehaves" and h.current.set_by == "cli"
    h = _apply(h, h.rollback("model 2 too", "cli", T0 + timedelta(hours=2)))
    assert h.current.model_id == "r/1/fp32" and h.current.seq == 5
    with pytest.raises(ValueError, match="no earlier model to roll back to"):
        h.rollback("again", "cli", T0)
    # A new model set after a rollback is rolled back to the model it replaced.
    h = _point(h, "4")
    assert h.rollback("no", "cli", T0).model_id == "r/1/fp32"


def test_an_alias_never_set_cannot_be_rolled_back_and_names_are_words():
    with pytest.raises(ValueError, match="never set"):
        AliasHistory("production", []).rollback("x", "cli", T0)
    assert is_alias_name("production") and is_alias_name("staging-2")
    assert not is_alias_name("r/1/fp32") and not is_alias_name("lake/models/r/onnx") and not is_alias_name("Prod")
    with pytest.raises(ValueError, match="alias must be a lower-case word"):
        AliasHistory("../x", [])
