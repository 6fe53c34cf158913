from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from sora_model.deploy.variants import load_predictor, load_state_dict
from sora_model.lake.card import ModelCard, write_card
from sora_model.lake.storage import sha256_file
from sora_model.train.model import ModelConfig, SoraModel


class _Payload:
    """A pickle that runs code when loaded."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_pickled_payload_with_code_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(2), "evil": _Payload()}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="refused to unpickle code"):
        load_state_dict(tmp_path / "model.pt")


def test_a_torch_variant_loads_from_its_meta_and_predicts(tmp_path):
    cfg = ModelConfig(num_classes=3, widths=(4,), embed_dim=8, heads=2)
    model = SoraModel(cfg).eval()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    write_card(str(tmp_path), ModelCard(
        run_id="r", epoch=1, step=1, sha256=sha256_file(str(tmp_path / "model.pt")), size_bytes=1, dataset="d",
        dataset_version=1, classes=["a", "b", "c"], frames_shape=[4, 16, 16, 3],
        model_config={**cfg.__dict__, "widths": list(cfg.widths)}, created_at="2026-12-01T00:00:00+00:00"))
    predictor = load_predictor(tmp_path, threads=1)
    clips = np.random.default_rng(0).integers(0, 256, (2, 4, 16, 16, 3), dtype=np.uint8)
    probs = predictor.probabilities(clips)
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1)
    with torch.no_grad():
        assert np.allclose(predictor.logits(clips), model(torch.from_numpy(clips)).numpy(), atol=1e-6)


def test_a_directory_without_meta_is_not_a_variant(tmp_path):
    with pytest.raises(ValueError, match="not a model variant"):
        load_predictor(tmp_path)
