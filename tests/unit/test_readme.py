from __future__ import annotations

from jobs.curate_docs import README, render


def test_readme_config_table_matches_the_code():
    text = README.read_text()
    assert render(text) == text, "README config table is stale: run `python -m jobs.curate_docs`"


def test_readme_has_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
