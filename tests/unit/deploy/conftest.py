"""A tiny real Sora model saved as a checkpoint directory (weights + model card), for the deploy tests."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from sora_model.lake.card import ModelCard, write_card
from sora_model.lake.storage import sha256_file
from sora_model.train.model import ModelConfig, SoraModel

FRAMES_SHAPE = [4, 32, 32, 3]
CLASSES = ["left", "right", "up"]


def save_checkpoint(directory: Path, run_id: str = "r1", epoch: int = 1, val_accuracy: float = 0.5,
                    seed: int = 0) -> Path:
    torch.manual_seed(seed)
    cfg = ModelConfig(num_classes=len(CLASSES), widths=(4, 8), embed_dim=8, heads=2, spatial_grid=2)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(SoraModel(cfg).eval().state_dict(), directory / "model.pt")
    write_card(str(directory), ModelCard(
        run_id=run_id, epoch=epoch, step=10 * epoch, sha256=sha256_file(str(directory / "model.pt")),
        size_bytes=os.path.getsize(directory / "model.pt"), dataset="demo", dataset_version=1, classes=CLASSES,
        frames_shape=FRAMES_SHAPE, model_config=dataclasses.asdict(cfg), created_at="2026-12-01T00:00:00+00:00",
        metrics={"val": {"accuracy": val_accuracy}}))
    return directory


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return save_checkpoint(tmp_path / "lake" / "models" / "r1" / "epoch-1")
