from __future__ import annotations

import json
from pathlib import Path

import pytest

from sora_model.lake.card import ModelCard, read_card, write_card


def _card(**kw) -> ModelCard:
    base = dict(run_id="r1", epoch=3, step=30, sha256="ab", size_bytes=10, dataset="demo", dataset_version=2,
                classes=["left", "right"], frames_shape=[8, 32, 32, 3], model_config={"widths": [8]},
                created_at="2026-12-01T00:00:00+00:00")
    return ModelCard(**{**base, **kw})


def test_a_card_round_trips_with_its_facts_as_top_level_keys(tmp_path: Path):
    card = _card(variant="int8-static", format="onnx", parent_uri="/l/models/r1/epoch-3",
                 facts={"params": 75337, "quantized_layers": {"int8_bytes": 1}})
    write_card(str(tmp_path), card)
    raw = json.loads((tmp_path / "meta.json").read_text())
    assert raw["params"] == 75337 and raw["model_file"] == "model.onnx" and "facts" not in raw
    assert read_card(str(tmp_path)) == card


def test_a_checkpoint_card_names_its_id_and_model_file():
    card = _card()
    assert card.model_id == "r1/3/fp32" and card.model_file == "model.pt" and card.params is None


def test_a_card_of_an_older_version_names_what_it_lacks(tmp_path: Path):
    raw = _card().to_json()
    del raw["frames_shape"]
    (tmp_path / "meta.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="lacks \\['frames_shape'\\]"):
        read_card(str(tmp_path))


def test_facts_may_not_shadow_card_fields():
    with pytest.raises(ValueError, match="shadow"):
        _card(facts={"epoch": 1})


def test_a_directory_without_a_card_is_not_a_model(tmp_path: Path):
    with pytest.raises(ValueError, match="not a model variant"):
        read_card(str(tmp_path))
