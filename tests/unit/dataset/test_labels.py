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


def test_every_labels_csv_labels_the_videos_of_its_folder_and_the_deeper_one_wins(tmp_path: Path):
    from sora_model.dataset.labels import read_corpus_labels

    (tmp_path / "batch-2" / "more").mkdir(parents=True)
    (tmp_path / "labels.csv").write_text("path,label_name\na.mp4,left\nbatch-2/b.mp4,up\n")
    (tmp_path / "batch-2" / "labels.csv").write_text("path,label_name\nb.mp4,down\nmore/c.mp4,right\n")
    (tmp_path / "elsewhere").mkdir()
    assert read_corpus_labels(str(tmp_path)) == {
        str(tmp_path / "a.mp4"): "left", str(tmp_path / "batch-2" / "b.mp4"): "down",
        str(tmp_path / "batch-2" / "more" / "c.mp4"): "right"}
    assert read_corpus_labels(str(tmp_path / "elsewhere")) == {}
