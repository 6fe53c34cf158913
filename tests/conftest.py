"""Fixtures shared by unit and integration tests: tiny real corpora made with the project's own synthesizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sora_model.video.synth import write_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 good h264 videos (two per class, some with a hard cut) plus the bad files; read-only for tests."""
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root, videos=12, seed=11, workers=2)
    return root


@pytest.fixture(scope="session")
def manifest(corpus: Path) -> dict:
    return json.loads((corpus / "manifest.json").read_text())
