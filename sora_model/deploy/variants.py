"""Model variants on disk and one way to run any of them.

A variant is a directory with a model card (``meta.json``, see ``lake.card``) and one model file: a PyTorch
state_dict (``format: torch``, loaded only with ``torch.load(weights_only=True)``: a pickle that carries code is
refused) or an ONNX graph (``format: onnx``, run by ONNX Runtime). Training checkpoints (``epoch-<n>/``) are
``torch`` variants named ``fp32``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from sora_model.lake import storage
from sora_model.lake.card import ModelCard, read_card


def load_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """Weights only: ``torch.load(weights_only=True)`` refuses a pickle that would import or call code."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path} is not a plain weights file (refused to unpickle code): {e}") from e


def load_torch_model(model_dir: str, card: ModelCard | None = None):  # noqa: ANN201 - nn.Module, torch lazily
    """The PyTorch model of a checkpoint or torch variant directory (local or in an object store), in eval mode:
    the card's model class (the built-in SoraModel or a user's) with the card's keywords."""
    from sora_model.train.model_spec import ModelSpec

    card = card or read_card(model_dir)
    model = ModelSpec.from_card(card).build()
    with storage.open_local(storage.join(model_dir, card.model_file)) as path:
        model.load_state_dict(load_state_dict(path))
    return model.eval()


@dataclass
class Predictor:
    """Logits for uint8 clips ``[B, T, H, W, C]``, whatever the variant's format."""

    card: ModelCard
    _torch_model: Any = None
    _session: Any = None
    _threads: int | None = None
    """Intra-op threads of a torch model's calls, set around each call: torch's setting is process-wide, and
    left at 1 after a timing it would halve a distillation or fine-tuning that runs next (the cycle's does)."""

    @property
    def name(self) -> str:
        return self.card.variant

    @property
    def format(self) -> str:
        return self.card.format

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def logits(self, clips: np.ndarray) -> np.ndarray:
        if self._session is not None:
            return self._session.run(None, {"clips": np.ascontiguousarray(clips, dtype=np.uint8)})[0]
        import torch

        before = torch.get_num_threads()
        if self._threads:
            torch.set_num_threads(self._threads)
        try:
            with torch.inference_mode():
                return self._torch_model(torch.from_numpy(np.ascontiguousarray(clips))).float().numpy()
        finally:
            torch.set_num_threads(before)

    @property
    def params(self) -> int:
        """Parameter count: from the variant's card when recorded, else counted on the loaded model."""
        if self.card.params:
            return self.card.params
        if self._torch_model is not None:
            return sum(p.numel() for p in self._torch_model.parameters())
        return 0

    def probabilities(self, clips: np.ndarray) -> np.ndarray:
        z = self.logits(clips).astype(np.float64)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def load_predictor(model_dir: str | os.PathLike, threads: int | None = None) -> Predictor:
    """Load a variant (local directory) for inference; ``threads`` pins the intra-op threads (None: the runtime's
    default)."""
    model_dir = str(model_dir)
    card = read_card(model_dir)
    if card.format == "onnx":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        session = ort.InferenceSession(storage.join(model_dir, card.model_file), opts,
                                       providers=["CPUExecutionProvider"])
        return Predictor(card, _session=session)
    return Predictor(card, _torch_model=load_torch_model(model_dir, card), _threads=threads)
