"""Model classes by import path: what the training job, compression, scoring and the service rebuild from a card."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from sora_model.lake.card import ModelCard
from sora_model.train.loop import TrainConfig, check_logits
from sora_model.train.model import ModelConfig, SoraModel
from sora_model.train.model_spec import BUILTIN_MODEL, ModelSpec, import_class, require_model_class

HERE = f"{__name__}:MeanColourNet"


class MeanColourNet(nn.Module):
    """A user's model: logits from each clip's mean colour."""

    def __init__(self, num_classes: int, frames_shape: list[int], scale: float = 1.0) -> None:
        super().__init__()
        self.frames_shape, self.scale = list(frames_shape), scale
        self.head = nn.Linear(3, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(clips.float().mean(dim=(1, 2, 3)) / 255.0 * self.scale)


def _card(spec: ModelSpec) -> ModelCard:
    return ModelCard(run_id="r", epoch=1, step=1, sha256="", size_bytes=0, dataset="d", dataset_version=1,
                     classes=["a", "b", "c"], frames_shape=[4, 8, 8, 3], model_config=spec.args,
                     model_class=spec.class_path, created_at="2026-12-06T00:00:00+00:00")


def test_a_user_class_is_built_with_the_datasets_sizes_and_its_own_keywords():
    spec = TrainConfig(model=HERE, model_args={"scale": 2.0}).model_spec.for_data(["a", "b", "c"], [4, 8, 8, 3])
    assert spec.args == {"scale": 2.0, "num_classes": 3, "frames_shape": [4, 8, 8, 3]} and not spec.builtin
    model = spec.build()
    assert isinstance(model, MeanColourNet) and model.scale == 2.0 and model.frames_shape == [4, 8, 8, 3]
    assert model(torch.zeros(2, 4, 8, 8, 3, dtype=torch.uint8)).shape == (2, 3)


def test_a_card_rebuilds_the_same_model_through_json():
    spec = ModelSpec.of(HERE, {"scale": 0.5}).for_data(["a", "b", "c"], [4, 8, 8, 3])
    card = ModelCard.from_json(_card(spec).to_json())
    rebuilt = ModelSpec.from_card(card)
    assert rebuilt == spec and isinstance(rebuilt.build(), MeanColourNet)


def test_the_builtin_model_keeps_its_config_and_old_cards_read_as_builtin():
    spec = TrainConfig().model_spec.for_data(["a", "b", "c"], [80, 8, 8, 3])
    assert spec.builtin and spec.builtin_config.num_classes == 3 and spec.builtin_config.max_frames == 80
    assert isinstance(spec.build(), SoraModel)
    old = {k: v for k, v in _card(spec).to_json().items() if k != "model_class"}
    assert ModelSpec.from_card(ModelCard.from_json(old)) == spec and spec.class_path == BUILTIN_MODEL


@pytest.mark.parametrize("path, message", [
    ("no_such_package.models:Net", r"cannot import 'no_such_package.models' .*PYTHONPATH .*--py-files"),
    (f"{__name__}:Missing", r"has no torch.nn.Module subclass named 'Missing'"),
    (f"{__name__}:HERE", r"has no torch.nn.Module subclass named 'HERE'"),
    ("Net", r"is not an import path"),
])
def test_a_class_that_cannot_be_used_says_what_to_fix(path: str, message: str):
    with pytest.raises(ValueError, match=message):
        import_class(path)


def test_dotted_paths_work_as_well_as_colons():
    assert import_class(f"{__name__}.MeanColourNet") is MeanColourNet


def test_a_constructor_that_does_not_take_the_keywords_is_named():
    with pytest.raises(ValueError, match=r"MeanColourNet: .*unexpected keyword.*'colour'.*\['colour'\]"):
        ModelSpec.of(HERE, {"colour": 1}).for_data(["a", "b"], [4, 8, 8, 3]).build()


def test_logits_of_the_wrong_shape_stop_training_with_the_shapes():
    spec = ModelSpec.of(HERE)
    check_logits(torch.zeros(4, 3), 4, 3, spec)
    with pytest.raises(ValueError, match=r"returned shape \(4, 3, 1\) for 4 clips; .*\[4, 3\]"):
        check_logits(torch.zeros(4, 3, 1), 4, 3, spec)


def test_config_takes_a_class_path_or_the_builtin_section_but_not_both():
    assert TrainConfig(model=HERE).model_spec.class_path == HERE
    with pytest.raises(ValueError, match="not an import path"):
        TrainConfig(model="VideoNet")
    with pytest.raises(ValueError, match=r"model_args \['hidden'\] are for a model class given by import path"):
        TrainConfig(model=ModelConfig(), model_args={"hidden": 8})


def test_scoring_checks_a_user_class_imports_before_its_tasks_load_it():
    require_model_class(_card(ModelSpec.of(HERE)))  # importable: nothing to say
    onnx = dataclasses.replace(_card(ModelSpec.of("gone.module:Net")), format="onnx", model_config=None)
    require_model_class(onnx)  # a graph needs no class
    with pytest.raises(ValueError, match="cannot import 'gone.module'"):
        require_model_class(_card(ModelSpec.of("gone.module:Net")))
