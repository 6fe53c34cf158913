from __future__ import annotations

from pathlib import Path

import pytest

from sora_model.dataset.labels import class_index, read_labels_csv


def test_paths_are_resolved_against_the_corpus_root(tmp_path: Path):
    (tmp_path / "labels.csv").write_text("path,label_name\nsub/a.mp4,left\n/abs/b.mp4, right \n")
    labels = read_labels_csv(str(tmp_path / "labels.csv"), str(tmp_path))
    assert labels == {str(tmp_path / "sub" / "a.mp4"): "left", "/abs/b.mp4": "right"}


def test_a_malformed_line_is_named(tmp_path: Path):
    (tmp_path / "labels.csv").write_text("path,label_name\na.mp4,left\nb.mp4,\n")
    with pytest.raises(ValueError, match="labels.csv:3: empty path or label_name"):
        read_labels_csv(str(tmp_path / "labels.csv"), str(tmp_path))


def test_a_csv_without_the_header_is_refused(tmp_path: Path):
    (tmp_path / "labels.csv").write_text("file,class\na.mp4,left\n")
    with pytest.raises(ValueError, match="needs a header"):
        read_labels_csv(str(tmp_path / "labels.csv"), str(tmp_path))


def test_class_indices_are_stable_across_versions():
    assert class_index([], {"up", "left"}) == ["left", "up"]
    assert class_index(["up", "left"], {"down", "left"}) == ["up", "left", "down"]
