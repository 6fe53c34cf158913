from __future__ import annotations

import os
from pathlib import Path

import pytest

from sora_model.lake import listing as listing_lib
from sora_model.lake.listing import ListingConfig, ListingTimeout, list_corpus


def _names(listing: listing_lib.Listing, root: Path) -> list[str]:
    return [str(Path(uri).relative_to(root)) for uri, _, _ in listing.files]


def test_every_file_is_listed_whatever_its_name_and_the_ignore_list_is_counted(tmp_path: Path):
    for name in ("a.mp4", "no_extension", "notes.txt", "odd #?%20 é.mkv", "deep/er/b.rmvb", "labels.csv",
                 ".hidden.mp4", ".cache/c.mp4", "manifest.json", "_SUCCESS"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * 3)
    listing = list_corpus(str(tmp_path), ListingConfig())
    assert _names(listing, tmp_path) == sorted(["a.mp4", "deep/er/b.rmvb", "no_extension", "notes.txt",
                                                "odd #?%20 é.mkv"])
    assert listing.ignored == 5  # labels.csv, .hidden.mp4, .cache/ (the folder), manifest.json, _SUCCESS
    assert all(size == 3 and mtime > 0 for _, size, mtime in listing.files)


def test_a_folder_link_loop_ends_and_broken_links_are_listed(tmp_path: Path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "v.mp4").write_bytes(b"v")
    os.symlink(tmp_path, tmp_path / "d" / "loop")          # folder loop back to the root
    os.symlink(tmp_path / "gone.mp4", tmp_path / "dangling.mp4")
    os.symlink(tmp_path / "self.mp4", tmp_path / "self.mp4")  # a link to itself: ELOOP
    os.symlink(tmp_path / "d" / "v.mp4", tmp_path / "alias.mp4")
    listing = list_corpus(str(tmp_path), ListingConfig())
    assert _names(listing, tmp_path) == ["alias.mp4", "d/v.mp4", "dangling.mp4", "self.mp4"]
    assert listing.links_skipped == 1


def test_a_listing_past_its_time_cap_stops_with_a_clear_error(tmp_path: Path):
    for i in range(600):
        (tmp_path / f"{i}.mp4").write_bytes(b"")
    with pytest.raises(ListingTimeout, match=r"took over 1e-09 s \(256 entries so far\).*listing.timeout_s"):
        list_corpus(str(tmp_path), ListingConfig(timeout_s=1e-9))


def test_a_missing_input_is_an_error_that_names_it(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nope"):
        list_corpus(str(tmp_path / "nope"), ListingConfig())
    with pytest.raises(ValueError, match="timeout_s"):
        ListingConfig(timeout_s=0)
