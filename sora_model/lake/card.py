"""The model card: the ``meta.json`` beside every checkpoint and variant, as one typed record.

Training writes one per checkpoint (``variant: fp32``), compression one per variant (naming its parent
checkpoint); registration, scoring and compression read them. Facts only one kind of variant has (sparsity,
quantized layer sizes, distillation temperature...) live in ``facts`` and are stored as top-level keys, so the
JSON stays flat and readable.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from sora_model.lake import storage
from sora_model.train.model_spec import BUILTIN_MODEL

CARD_FILE = "meta.json"
"""A model directory is complete once this file exists (it is written last)."""

ModelFormat = Literal["torch", "onnx"]
FORMATS: tuple[str, ...] = get_args(ModelFormat)
MODEL_FILES: dict[str, str] = {"torch": "model.pt", "onnx": "model.onnx"}


def model_id(run_id: str, epoch: int, variant: str) -> str:
    """The id of a model in the models table: ``<run_id>/<epoch>/<variant>``."""
    return f"{run_id}/{epoch}/{variant}"


def parse_model_id(text: str) -> tuple[str, int, str] | None:
    """(run_id, epoch, variant) of a models-table id; None when ``text`` is not spelled like one."""
    parts = text.split("/")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[0] or not parts[2]:
        return None
    return parts[0], int(parts[1]), parts[2]


@dataclass(frozen=True, kw_only=True)
class ModelCard:
    run_id: str
    """Training run the weights come from."""
    epoch: int
    """Epoch of the checkpoint (of the parent checkpoint, for a variant)."""
    step: int
    """Optimizer steps done at that checkpoint."""
    variant: str = "fp32"
    """'fp32' for a training checkpoint, else the variant's name (onnx, int8-static, pruned-0.5, ...)."""
    format: ModelFormat = "torch"
    """torch: a state_dict loaded with weights_only=True; onnx: a graph run by ONNX Runtime."""
    sha256: str
    """Of the model file."""
    size_bytes: int
    """Of the model file."""
    dataset: str
    dataset_version: int
    classes: list[str]
    frames_shape: list[int]
    """[T, H, W, 3] of the uint8 clips the model takes."""
    model_config: dict[str, Any] | None
    """The constructor keywords of ``model_class`` (the built-in's ModelConfig); None for graphs that are not
    rebuilt in PyTorch."""
    model_class: str = BUILTIN_MODEL
    """Import path of the PyTorch class the weights belong to (``train.model``); cards without it are the built-in
    SoraModel's."""
    created_at: str
    """ISO 8601, UTC."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Validation metrics (checkpoints) or the evaluation of the variant."""
    history: list[dict[str, Any]] | None = None
    """Per-epoch records up to this checkpoint (checkpoints only)."""
    parent_uri: str | None = None
    """The checkpoint a variant was made from."""
    parent_sha256: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    """What only this kind of variant has: params, sparsity, quantized_layers, temperature, ..."""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown model format {self.format!r} (known: {FORMATS})")
        clash = set(self.facts) & {f.name for f in dataclasses.fields(self)}
        if clash:
            raise ValueError(f"facts {sorted(clash)} would shadow model card fields")

    @property
    def model_file(self) -> str:
        """Name of the model file inside the card's directory."""
        return MODEL_FILES[self.format]

    @property
    def model_id(self) -> str:
        """The id of the models table: ``<run_id>/<epoch>/<variant>``."""
        return model_id(self.run_id, self.epoch, self.variant)

    @property
    def params(self) -> int | None:
        return int(self.facts["params"]) if self.facts.get("params") else None

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "facts"}
        out = {k: v for k, v in out.items() if v is not None or k == "model_config"}
        return {**out, "model_file": self.model_file, **self.facts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelCard:
        fields = dataclasses.fields(cls)
        names = {f.name for f in fields} - {"facts"}
        missing = [f.name for f in fields if f.name in names and f.name not in data
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ValueError(f"model card lacks {missing} (written by an older sora_model?); compress or retrain "
                             "to get a complete one")
        known = {k: v for k, v in data.items() if k in names}
        facts = {k: v for k, v in data.items() if k not in names and k != "model_file"}
        return cls(**known, facts=facts)

    def with_facts(self, **facts: Any) -> ModelCard:
        return dataclasses.replace(self, facts={**self.facts, **facts})


def write_card(directory: str, card: ModelCard) -> None:
    storage.write_text(storage.join(directory, CARD_FILE), json.dumps(card.to_json(), indent=1))


def read_card(directory: str) -> ModelCard:
    """The card of a checkpoint or variant directory; ValueError when it has none."""
    uri = storage.join(directory, CARD_FILE)
    if not storage.is_file(uri):
        raise ValueError(f"{directory} is not a model variant or checkpoint (no {CARD_FILE})")
    return ModelCard.from_json(json.loads(storage.read_text(uri)))
