from __future__ import annotations

import os
from pathlib import Path

import pytest

from sora_model.lake import storage


def test_normalize_gives_one_name_per_local_file(tmp_path: Path):
    (tmp_path / "a").mkdir()
    name = storage.normalize(str(tmp_path / "a" / ".." / "a" / "x.mp4"))
    assert name == storage.normalize(f"file://{tmp_path}/a/x.mp4") == str(tmp_path / "a" / "x.mp4")
    assert storage.normalize("s3a://bucket/lake/") == "s3a://bucket/lake"


@pytest.mark.parametrize("name", ["a#b.mp4", "percent%20enc#hash?q.mp4", "sp ace é.mp4", "q?.mp4"])
def test_file_names_keep_every_character(tmp_path: Path, name: str):
    (tmp_path / name).write_bytes(b"x")
    for uri in (str(tmp_path / name), f"file:{tmp_path}/{name}", f"file://{tmp_path}/{name}"):
        assert storage.normalize(uri) == str(tmp_path / name)
        assert storage.read_bytes(uri) == b"x"
    assert storage.scheme("s3://bucket/k#1?x") == "s3" and storage.scheme(str(tmp_path / name)) == ""


def test_text_bytes_and_append_round_trip(tmp_path: Path):
    uri = str(tmp_path / "deep" / "er" / "log.jsonl")
    storage.append_text(uri, "a\n")
    storage.append_text(uri, "b\n")
    assert storage.read_text(uri) == "a\nb\n" and storage.is_file(uri)
    storage.write_bytes(uri, b"\x00\x01")
    assert storage.read_bytes(uri) == b"\x00\x01"


def test_listing_a_missing_directory_is_empty(tmp_path: Path):
    assert storage.list_dir(str(tmp_path / "nope")) == [] and storage.list_files(str(tmp_path / "nope")) == []
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f.txt").write_text("x")
    assert storage.list_dir(str(tmp_path / "d")) == ["e"]
    assert storage.list_files(str(tmp_path / "d")) == [str(tmp_path / "d" / "e" / "f.txt")]


def test_publishing_makes_the_directory_appear_whole(tmp_path: Path):
    final = tmp_path / "models" / "run" / "epoch-1"
    with storage.publishing(str(final), marker="meta.json") as tmp:
        Path(tmp, "model.pt").write_bytes(b"w")
        assert not final.exists()
        Path(tmp, "meta.json").write_text("{}")
    assert sorted(os.listdir(final)) == ["meta.json", "model.pt"]
    assert os.listdir(final.parent) == ["epoch-1"]  # no temporary directory left behind


def test_publishing_replaces_an_earlier_attempt_only_when_complete(tmp_path: Path):
    final = tmp_path / "v"
    with storage.publishing(str(final), marker="meta.json") as tmp:
        Path(tmp, "meta.json").write_text("old")
    with pytest.raises(ZeroDivisionError), storage.publishing(str(final), marker="meta.json") as tmp:
        Path(tmp, "meta.json").write_text("new")
        1 / 0
    assert (final / "meta.json").read_text() == "old" and os.listdir(tmp_path) == ["v"]
    with storage.publishing(str(final), marker="meta.json") as tmp:
        Path(tmp, "meta.json").write_text("new")
    assert (final / "meta.json").read_text() == "new"


def test_publishing_without_the_marker_is_a_bug(tmp_path: Path):
    with pytest.raises(RuntimeError, match="nothing wrote meta.json"), \
            storage.publishing(str(tmp_path / "v"), marker="meta.json") as tmp:
        Path(tmp, "model.pt").write_bytes(b"w")
    assert not (tmp_path / "v").exists()
