"""Which model a run trains, and how a model card rebuilds it: the built-in ``SoraModel`` or a user's class named
by import path (``train.model: my_package.models:VideoNet``).

A user's class is built as ``Class(num_classes=<the dataset's>, frames_shape=[T, H, W, 3], **model_args)``. Its
``forward`` takes uint8 clips ``[B, T, H, W, 3]`` on the model's device (it scales and normalises them itself, as
the built-in does) and returns logits ``[B, num_classes]``. The card records the class path and every keyword,
so the training job's resume and warm start, compression, scoring and the online service all rebuild the same
model. The class must be importable wherever those run: on a cluster, ship its module with ``--py-files`` or
install it on every node. Importing it runs its module's code, so a lake's cards are trusted as its code is.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from sora_model.lake.card import ModelCard
    from sora_model.train.model import ModelConfig

BUILTIN_MODEL = "sora_model.train.model:SoraModel"
"""The class path of the built-in model (the one cards written before model classes were recorded hold)."""


def import_class(path: str) -> type:
    """The ``nn.Module`` subclass ``path`` names (``package.module:Class`` or ``package.module.Class``);
    ValueError saying what to fix when it cannot be imported or is not a module class."""
    from torch import nn

    module_name, sep, name = path.partition(":")
    if not sep:
        module_name, _, name = path.rpartition(".")
    if not module_name or not name:
        raise ValueError(f"model {path!r} is not an import path: write package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"model {path!r}: cannot import {module_name!r} ({e}); put its package on PYTHONPATH "
                         "(on a cluster: spark-submit --py-files, or install it on every node)") from e
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"model {path!r}: {module_name} has no torch.nn.Module subclass named {name!r}")
    return cls


def require_model_class(card: ModelCard) -> None:
    """Import the class a PyTorch variant needs (ValueError saying how to ship it when it cannot be): a job checks
    this where it starts, before its tasks or requests load the model."""
    if card.format == "torch" and card.model_config is not None and card.model_class != BUILTIN_MODEL:
        import_class(card.model_class)


def _builtin_config(args: dict[str, Any]) -> ModelConfig:
    from sora_model.train.model import ModelConfig

    return ModelConfig(**{**args, "widths": tuple(args["widths"])} if "widths" in args else args)


@dataclass(frozen=True)
class ModelSpec:
    class_path: str
    """``package.module:Class``; ``BUILTIN_MODEL`` for the built-in SoraModel."""
    args: dict[str, Any]
    """Every constructor keyword, as the card records them (JSON values): the built-in's ModelConfig fields, or a
    user class's model_args with num_classes and frames_shape."""

    @property
    def builtin(self) -> bool:
        return self.class_path == BUILTIN_MODEL

    @property
    def name(self) -> str:
        """The class's name, for messages."""
        return self.class_path.replace(":", ".").rsplit(".", 1)[-1]

    def build(self) -> nn.Module:
        """A new model of this class with these keywords (random weights)."""
        if self.builtin:
            from sora_model.train.model import SoraModel

            return SoraModel(_builtin_config(self.args))
        cls = import_class(self.class_path)
        try:
            return cls(**self.args)
        except TypeError as e:
            own = sorted(set(self.args) - {"num_classes", "frames_shape"})
            raise ValueError(f"model {self.class_path}: {e}; its constructor must take num_classes, frames_shape "
                             f"and the keys of train.model_args ({own})") from e

    @classmethod
    def of_builtin(cls, cfg: ModelConfig) -> ModelSpec:
        args = dataclasses.asdict(cfg)
        return cls(BUILTIN_MODEL, {**args, "widths": list(cfg.widths)})

    @classmethod
    def of(cls, model: ModelConfig | str, model_args: dict[str, Any] | None = None) -> ModelSpec:
        """What ``train.model`` (and ``train.model_args``) configure, before the dataset fits it (``for_data``)."""
        if isinstance(model, str):
            return cls(model, dict(model_args or {}))
        return cls.of_builtin(model)

    @classmethod
    def from_card(cls, card: ModelCard) -> ModelSpec:
        """The model a card's weights belong to; ValueError for a graph that is not rebuilt in PyTorch."""
        if card.model_config is None:
            raise ValueError(f"model {card.model_id} has no model_config: it is not a PyTorch model")
        return cls(card.model_class, dict(card.model_config))

    def for_data(self, classes: list[str], frames_shape: list[int]) -> ModelSpec:
        """The same model sized for a dataset: its class count, and clips of its shape."""
        if self.builtin:
            cfg = _builtin_config(self.args)
            return ModelSpec.of_builtin(dataclasses.replace(cfg, num_classes=len(classes),
                                                            max_frames=max(cfg.max_frames, frames_shape[0])))
        return ModelSpec(self.class_path, {**self.args, "num_classes": len(classes),
                                           "frames_shape": [int(n) for n in frames_shape]})

    @property
    def builtin_config(self) -> ModelConfig:
        """The built-in model's ModelConfig; ValueError for another class (what only the built-in supports, such as
        channel pruning, asks for it)."""
        if not self.builtin:
            raise ValueError(f"{self.name} is not the built-in SoraModel")
        return _builtin_config(self.args)
