from __future__ import annotations

from pathlib import Path

import pytest

from sora_model.video import rejects
from sora_model.video.probe import ProbeResult, probe_file


def test_probe_reads_the_facts_the_synthesizer_wrote(corpus: Path, manifest: dict):
    for spec in manifest["videos"][:4]:
        result = probe_file(str(corpus / spec["name"]))
        assert isinstance(result, ProbeResult)
        assert (result.width_px, result.height_px) == (spec["width_px"], spec["height_px"])
        assert result.fps == pytest.approx(spec["fps"])
        assert result.frame_count == round(spec["duration_s"] * spec["fps"])
        assert result.duration_s == pytest.approx(spec["duration_s"], abs=1.5 / spec["fps"])
        assert result.codec == "h264"
        assert "mp4" in result.container


@pytest.mark.parametrize("name, reason", [
    ("incoming/empty.mp4", rejects.EMPTY_FILE),
    ("incoming/random_bytes.mp4", rejects.NOT_VIDEO),
    ("incoming/notes.mp4", rejects.NOT_VIDEO),
    ("incoming/notes.txt", rejects.NOT_VIDEO),
    ("incoming/poster.png", rejects.NOT_VIDEO),
    ("incoming/truncated_header.mp4", rejects.UNREADABLE),
    ("incoming/audio_only.mp4", rejects.NO_VIDEO_STREAM),
])
def test_bad_file_is_a_reject_not_an_exception(corpus: Path, name: str, reason: str):
    result = probe_file(str(corpus / name))
    assert isinstance(result, rejects.Rejected)
    assert (result.stage, result.reason) == ("probe", reason)
    assert result.detail


def test_not_video_names_the_detected_type(corpus: Path):
    assert probe_file(str(corpus / "incoming/poster.png")).detail == "content is image/png"
    assert probe_file(str(corpus / "incoming/notes.mp4")).detail == "content is text/plain"
    header = probe_file(str(corpus / "incoming/truncated_header.mp4")).detail
    assert header.startswith("video/mp4 signature, but")


@pytest.mark.parametrize("name", ["incoming/upload_3f9a", "incoming/camera.dat",
                                  "incoming/percent%20enc #hash?q é.mp4"])
def test_a_video_is_a_video_whatever_its_name(corpus: Path, name: str):
    result = probe_file(str(corpus / name))
    assert isinstance(result, ProbeResult) and result.frame_count == 45


def test_missing_file_is_an_io_error_reject(tmp_path: Path):
    result = probe_file(str(tmp_path / "gone.mp4"))
    assert isinstance(result, rejects.Rejected) and result.reason == rejects.IO_ERROR


def test_truncated_fragmented_mp4_still_probes(corpus: Path):
    # The fragments before the cut are indexed, so probing succeeds; decoding must later fall back to PyAV.
    result = probe_file(str(corpus / "incoming/truncated_partial.mp4"))
    assert isinstance(result, ProbeResult) and 0 < result.frame_count < 160
