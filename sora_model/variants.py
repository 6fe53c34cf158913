"""Model variants on disk and one way to run any of them.

A variant is a directory with ``meta.json`` and one model file: a PyTorch state_dict (``format: torch``, loaded
only with ``torch.load(weights_only=True)``: a pickle that carries code is refused) or an ONNX graph
(``format: onnx``, run by ONNX Runtime). Training checkpoints (``epoch-<n>/``) are ``torch`` variants named
``fp32``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMATS = ("torch", "onnx")


def model_config_from(meta: dict[str, Any]):  # noqa: ANN201 - ModelConfig, torch imported lazily
    from sora_model.model import ModelConfig

    cfg = dict(meta["model_config"])
    cfg["widths"] = tuple(cfg["widths"])
    return ModelConfig(**cfg)


def load_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """Weights only: ``torch.load(weights_only=True)`` refuses a pickle that would import or call code."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path} is not a plain weights file (refused to unpickle code): {e}") from e


def load_torch_model(variant_dir: str | os.PathLike, meta: dict[str, Any] | None = None):  # noqa: ANN201
    from sora_model.model import SoraModel

    variant_dir = Path(variant_dir)
    meta = meta or json.loads((variant_dir / "meta.json").read_text())
    model = SoraModel(model_config_from(meta))
    model.load_state_dict(load_state_dict(variant_dir / meta.get("model_file", "model.pt")))
    return model.eval()


@dataclass
class Predictor:
    """Logits for uint8 clips ``[B, T, H, W, C]``, whatever the variant's format."""

    name: str
    format: str
    classes: list[str]
    meta: dict[str, Any]
    _torch_model: Any = None
    _session: Any = None

    def logits(self, clips: np.ndarray) -> np.ndarray:
        if self._session is not None:
            return self._session.run(None, {"clips": np.ascontiguousarray(clips, dtype=np.uint8)})[0]
        import torch

        with torch.inference_mode():
            return self._torch_model(torch.from_numpy(np.ascontiguousarray(clips))).float().numpy()

    @property
    def params(self) -> int:
        """Parameter count: from the variant's meta when recorded, else counted on the loaded model."""
        if self.meta.get("params"):
            return int(self.meta["params"])
        if self._torch_model is not None:
            return sum(p.numel() for p in self._torch_model.parameters())
        return 0

    def probabilities(self, clips: np.ndarray) -> np.ndarray:
        z = self.logits(clips).astype(np.float64)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def load_predictor(variant_dir: str | os.PathLike, threads: int | None = None) -> Predictor:
    """Load a variant for inference; ``threads`` pins the intra-op threads (None: the runtime's default)."""
    variant_dir = Path(variant_dir)
    meta_path = variant_dir / "meta.json"
    if not meta_path.is_file():
        raise ValueError(f"{variant_dir} is not a model variant (no meta.json)")
    meta = json.loads(meta_path.read_text())
    fmt = meta.get("format", "torch")
    if fmt not in FORMATS:
        raise ValueError(f"{variant_dir}: unknown model format {fmt!r} (known: {FORMATS})")
    name = meta.get("variant", "fp32")
    if fmt == "onnx":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(variant_dir / meta["model_file"]), opts,
                                       providers=["CPUExecutionProvider"])
        return Predictor(name, fmt, list(meta["classes"]), meta, _session=session)
    if threads:
        import torch

        torch.set_num_threads(threads)
    return Predictor(name, fmt, list(meta["classes"]), meta, _torch_model=load_torch_model(variant_dir, meta))
