from __future__ import annotations

from pathlib import Path

from pipelines.curate import CurateConfig
from sora_model import config as config_lib

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_documents_every_config_key():
    text = README.read_text()
    missing = [key for key, _, _ in config_lib.describe(CurateConfig) if f"`{key}`" not in text]
    assert missing == []


def test_readme_has_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
