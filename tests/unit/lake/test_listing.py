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


def test_pipes_sockets_devices_and_links_to_them_are_listed_for_the_probe_to_reject(tmp_path: Path,
                                                                                    special_entries: dict):
    (tmp_path / "a.mp4").write_bytes(b"x" * 10)
    got = list_corpus(str(tmp_path), ListingConfig())
    assert {Path(u).name for u, _, _ in got.files} == {*special_entries, "a.mp4"} and got.ignored == 0


def _list_as_nobody(root: Path) -> listing_lib.Listing:
    """The listing as an unprivileged user would see it (root reads any folder)."""
    import multiprocessing

    if os.geteuid() != 0:
        return list_corpus(str(root), ListingConfig())
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def run() -> None:
        os.setgid(65534)
        os.setuid(65534)
        queue.put(list_corpus(str(root), ListingConfig()))

    proc = ctx.Process(target=run)
    proc.start()
    got = queue.get(timeout=60)
    proc.join(60)
    return got


def test_a_folder_that_cannot_be_listed_is_an_entry_and_the_rest_is_listed():
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="sora-listing-"))
    try:
        (root / "good").mkdir()
        (root / "good" / "a.mp4").write_bytes(b"x")
        (root / "locked").mkdir()
        (root / "locked" / "b.mp4").write_bytes(b"y")
        for p in (root, root / "good", root / "good" / "a.mp4"):
            p.chmod(0o755)
        (root / "locked").chmod(0o000)
        got = _list_as_nobody(root)
        assert sorted(u for u, _, _ in got.files) == [str(root / "good" / "a.mp4"), str(root / "locked")]
    finally:
        (root / "locked").chmod(0o755)
        shutil.rmtree(root)
