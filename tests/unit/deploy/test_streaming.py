from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sora_model.deploy.streaming import Window, check_stream_name, ignored, landed_uri, stream_name
from sora_model.lake.listing import ListingConfig


def test_stream_names_are_readable_and_differ_for_two_prefixes_with_the_same_last_folder(tmp_path):
    a, b = stream_name(str(tmp_path / "x" / "Landing Zone")), stream_name(str(tmp_path / "y" / "Landing Zone"))
    assert a.startswith("landing-zone-") and b.startswith("landing-zone-") and a != b
    assert stream_name("s3://bucket/cams/") == stream_name("s3://bucket/cams")
    assert check_stream_name(a) == a


@pytest.mark.parametrize("bad", ["", "Upper", "a/b", "x" * 65, "-lead"])
def test_a_stream_name_that_cannot_name_a_folder_is_refused(bad):
    with pytest.raises(ValueError, match="stream name"):
        check_stream_name(bad)


def test_windows_are_aligned_to_utc_and_their_run_id_is_the_same_on_a_replay():
    t = datetime(2026, 12, 6, 7, 42, 13, tzinfo=timezone(timedelta(hours=2)))
    w = Window.of(t, 3600)
    assert (w.start, w.end) == (datetime(2026, 12, 6, 5, tzinfo=timezone.utc), datetime(2026, 12, 6, 6, tzinfo=timezone.utc))
    assert Window.of(t + timedelta(minutes=10), 3600) == w
    assert w.run_id("cams-1") == Window.of(w.start, 3600).run_id("cams-1")
    assert w.run_id("cams-1").startswith("20261206T050000Z-") and w.run_id("cams-1") != w.run_id("cams-2")
    with pytest.raises(ValueError, match="window length"):
        Window.of(t, 0)


def test_landed_files_are_named_as_batch_scoring_lists_them(tmp_path):
    land = tmp_path / "landing"
    assert landed_uri(f"file:{land}/a.mp4", str(land)) == f"{land}/a.mp4"
    assert landed_uri(f"file://{land}/x%2520y%23q%3F.mp4", str(land)) == f"{land}/x%20y#q?.mp4"
    assert landed_uri(f"file://{land}/cam%201/a%20b.mp4", str(land)) == f"{land}/cam 1/a b.mp4"
    assert landed_uri("s3a://bucket/land/x%23y.mp4", "s3://bucket/land") == "s3://bucket/land/x#y.mp4"
    with pytest.raises(ValueError, match="local input"):
        landed_uri("s3a://bucket/x.mp4", str(land))


def test_landed_files_on_the_ignore_list_are_skipped_by_name_or_folder(tmp_path):
    land = str(tmp_path)
    listing = ListingConfig()
    assert ignored(f"{land}/labels.csv", land, listing)
    assert ignored(f"{land}/.partial/a.mp4", land, listing)
    assert not ignored(f"{land}/cam/a.mp4", land, listing)
