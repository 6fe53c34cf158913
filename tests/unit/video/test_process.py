from __future__ import annotations

import os
from pathlib import Path

import pytest

from sora_model.lake.storage import sha256_file
from sora_model.video import rejects
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig, uniform_rows
from sora_model.video.decode import DecodeConfig
from sora_model.video.process import ProbedVideo, VideoDecode, open_video, probe_video
from sora_model.video.rejects import Rejected


def test_probe_video_hashes_the_content(corpus: Path, manifest: dict):
    uri = str(corpus / manifest["videos"][0]["name"])
    out = probe_video(uri, CleanConfig())
    assert isinstance(out, ProbedVideo) and out.video_id == sha256_file(uri) and out.uri == uri


@pytest.mark.parametrize("kind", ["empty", "random_bytes", "text", "audio_only", "truncated_header",
                                  "too_small", "too_short"])
def test_probe_video_gives_each_bad_file_its_reason(corpus: Path, manifest: dict, kind: str):
    bad = next(b for b in manifest["bad_files"] if b["kind"] == kind)
    out = probe_video(str(corpus / bad["name"]), CleanConfig())
    assert isinstance(out, Rejected) and out.reason == bad["expected_reason"]


def test_a_rejected_file_that_was_read_keeps_its_content_id(corpus: Path, manifest: dict):
    bad = next(b for b in manifest["bad_files"] if b["kind"] == "too_short")
    out = probe_video(str(corpus / bad["name"]), CleanConfig())
    assert out.video_id == sha256_file(str(corpus / bad["name"]))
    assert out.columns() == {"reject_stage": "clean", "reject_reason": rejects.TOO_SHORT,
                             "reject_detail": out.detail}


def test_a_missing_file_is_an_io_error_without_content_id(tmp_path: Path):
    out = probe_video(str(tmp_path / "gone.mp4"), CleanConfig())
    assert isinstance(out, Rejected) and out.reason == rejects.IO_ERROR and out.video_id is None


def test_probe_columns_round_trip(corpus: Path, manifest: dict):
    probed = probe_video(str(corpus / manifest["videos"][0]["name"]), CleanConfig())
    assert ProbedVideo.from_columns({"uri": probed.uri, **probed.columns()}) == probed


def test_open_video_yields_clips_with_the_decode_shape(corpus: Path, manifest: dict):
    decode = DecodeConfig(frames_per_clip=4, height_px=32, width_px=32)
    video = open_video(str(corpus / manifest["videos"][0]["name"]), CleanConfig(), ClipConfig(), decode,
                       uniform_rows(4))
    clips = video.clips
    assert clips and all(len(rows) == 1 and rows[0].shape == decode.frames_shape for _, rows in clips)
    assert video.rejected is None and video.report.decoder == "decord"
    start_s, end_s = video.seconds(clips[0][0])
    assert start_s == 0 and end_s > start_s


def test_open_video_hands_back_the_probe_reject(corpus: Path, manifest: dict):
    bad = next(b for b in manifest["bad_files"] if b["kind"] == "text")
    out = open_video(str(corpus / bad["name"]), CleanConfig(), ClipConfig(), DecodeConfig(), uniform_rows(8))
    assert isinstance(out, Rejected) and out.reason == bad["expected_reason"]


def test_a_video_with_no_decodable_clip_is_rejected_at_decode(corpus: Path):
    probed = probe_video(str(corpus / "incoming/truncated_partial.mp4"), CleanConfig())
    decoding = VideoDecode(probed, ClipConfig(), DecodeConfig(pyav_fallback=False), uniform_rows(8))
    assert list(decoding) == []
    rejected = decoding.rejected
    assert rejected.stage == "decode" and rejected.reason == rejects.UNDECODABLE and rejected.detail
    assert rejected.video_id == probed.video_id


def test_broken_links_are_rejected_with_what_is_wrong(tmp_path: Path):
    os.symlink(tmp_path / "gone.mp4", tmp_path / "dangling.mp4")
    os.symlink(tmp_path / "self.mp4", tmp_path / "self.mp4")
    for name, detail in (("dangling.mp4", "link target missing"), ("self.mp4", "link loop")):
        result = probe_video(str(tmp_path / name), CleanConfig())
        assert isinstance(result, Rejected) and result.reason == rejects.BROKEN_LINK, name
        assert result.stage == "ingest" and result.detail.startswith(detail)


@pytest.mark.parametrize("name, container, codec", [("talk.asf", "asf", "wmv2"), ("old.rmvb", "rm", "rv20"),
                                                    ("no_extension", "matroska", "mpeg4")])
def test_containers_an_extension_list_skipped_are_curated(tmp_path: Path, name: str, container: str, codec: str):
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    with av.open(str(tmp_path / name), "w", format=container) as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        for i in range(75):
            img = np.zeros((120, 160, 3), np.uint8)
            img[:, (i * 2) % 160:] = 180
            img[40:80, 40:80] = rng.integers(0, 255, (40, 40, 3))
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    video = open_video(str(tmp_path / name), CleanConfig(), ClipConfig(), DecodeConfig(), uniform_rows(8))
    assert not isinstance(video, Rejected) and video.video.probe.codec == codec
    assert len(video.clips) == 2 and video.rejected is None


def _probe_within(uri: str, seconds: float = 60.0, **kw) -> ProbedVideo | Rejected:
    """probe_video in a thread: a probe that blocks (reading a pipe) fails the test instead of hanging it."""
    import threading

    out: list = []
    worker = threading.Thread(target=lambda: out.append(probe_video(uri, CleanConfig(), **kw)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert out, f"probing {uri} did not end within {seconds} s"
    return out[0]


def test_pipes_sockets_devices_and_links_to_them_are_rejected_without_being_read(special_entries: dict):
    expected = {"pipe.mp4": "a named pipe (FIFO)", "socket.mp4": "a socket", "link_to_pipe.mp4": "a named pipe",
                "link_to_zero.mp4": "a character device (through the link"}
    for name, detail in expected.items():
        out = _probe_within(str(special_entries[name]))
        assert isinstance(out, Rejected) and out.reason == rejects.NOT_REGULAR_FILE, name
        assert out.detail.startswith(detail) and out.stage == "ingest", out.detail


def test_a_folder_listed_as_an_entry_is_an_unreadable_folder_reject(tmp_path: Path):
    (tmp_path / "locked").mkdir()
    out = _probe_within(str(tmp_path / "locked"))
    assert isinstance(out, Rejected) and out.reason == rejects.UNREADABLE_FOLDER
    assert str(tmp_path / "locked") in out.detail and "fix its permissions" in out.detail


def test_the_probe_runs_contained_a_hang_or_a_runaway_allocation_is_a_reject(corpus: Path, manifest: dict,
                                                                            tmp_path: Path):
    from sora_model.video import contain, process
    from sora_model.video.probe import ProbeConfig
    from sora_model.video.signature import NearDupConfig

    path = str(corpus / manifest["videos"][0]["name"])
    assert isinstance(_probe_within(path, probe=ProbeConfig()), ProbedVideo)
    # A read that never ends (a pipe nobody writes, past the checks that keep probe_video from opening one).
    os.mkfifo(tmp_path / "pipe.mp4")
    hang = contain.shared().run(process._probe_job, (str(tmp_path / "pipe.mp4"), CleanConfig(), None),
                                contain.Limits(timeout_s=2.0, max_memory_mb=1024, stage="probe"))
    assert hang.failure is not None and hang.failure.reason == rejects.PROBE_TIMEOUT
    assert hang.failure.stage == "probe" and "probe.timeout_s=2" in hang.failure.detail
    assert isinstance(_probe_within(path, near_dup=NearDupConfig()), ProbedVideo)  # a fresh process serves next
