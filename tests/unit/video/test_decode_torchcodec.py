"""decode.backend='torchcodec' against the default decord, on the same files.

torchcodec loads FFmpeg's shared libraries when it is imported, by their standard names. So that these tests run
the same with and without FFmpeg installed on the machine, the decoding runs in a child Python whose
LD_LIBRARY_PATH holds PyAV's FFmpeg 8 under those names (``sora_model.video.ffmpeg_libs``), which torchcodec
tries before older majors. The child decodes each case with both backends and hands back the clips.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sora_model.video import ffmpeg_libs
from tests.unit.video.test_decode import _write

ROOT = Path(__file__).resolve().parents[3]

_DECODE_BOTH = """
import dataclasses, json, pickle, sys
from sora_model.video.clips import ClipConfig, sample_indices
from sora_model.video.decode import DecodeConfig, DecodeReport, decode_clips
from sora_model.video.probe import probe_file
out = {}
for key, path, h, w, mode in json.loads(sys.argv[1]):
    for backend in ("decord", "torchcodec"):
        probe, report = probe_file(path), DecodeReport()
        clips = list(decode_clips(path, probe, ClipConfig(mode=mode),
                                  DecodeConfig(backend=backend, height_px=h, width_px=w),
                                  lambda s: [sample_indices(s, 8)], report))
        out[key, backend] = {"spans": [(s.start_frame, s.end_frame) for s, _ in clips],
                             "frames": [rows[0] for _, rows in clips], "fps": probe.fps,
                             "report": dataclasses.asdict(report)}
import torchcodec._core as core
out["ffmpeg_major"] = core.ffmpeg_major_version
pickle.dump(out, open(sys.argv[2], "wb"))
"""


def _run(code: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def decoded(corpus: Path, manifest: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("torchcodec")
    img = np.zeros((96, 128, 3), np.uint8)
    img[:24, :32] = 255  # a white block top left, stored sideways
    _write(tmp / "phone.mp4", [(i / 15, img) for i in range(30)], rate=15, rotation=90)
    # 2 s at 30 fps, then 2 s at 10 fps; each frame's grey level is its time (x 60).
    times = [i / 30 for i in range(60)] + [2 + i / 10 for i in range(20)]
    _write(tmp / "vfr.mp4", [(t, np.full((96, 128, 3), int(t * 60), np.uint8)) for t in times])
    rng = np.random.default_rng(0)
    _write(tmp / "full.flv", [(i / 25, rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)) for i in range(100)],
           codec="flv", rate=25)
    (tmp / "stub.flv").write_bytes((tmp / "full.flv").read_bytes()[: int((tmp / "full.flv").stat().st_size * 0.2)])
    cases = [[f"corpus{i}", str(corpus / spec["name"]), 48, 64, "fixed"]
             for i, spec in enumerate(manifest["videos"][:2])]
    cases += [["shots", str(corpus / manifest["videos"][0]["name"]), 48, 64, "shots"],
              ["phone", str(tmp / "phone.mp4"), 64, 48, "fixed"], ["vfr", str(tmp / "vfr.mp4"), 64, 64, "fixed"],
              ["stub", str(tmp / "stub.flv"), 64, 64, "fixed"]]
    env = ffmpeg_libs.loader_env(ffmpeg_libs.link_pyav_ffmpeg(tmp / "ffmpeg"))
    proc = _run(_DECODE_BOTH, [json.dumps(cases), str(tmp / "out.pkl")], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pickle.loads((tmp / "out.pkl").read_bytes())


def test_pyav_ffmpeg_linked_under_standard_names_loads_torchcodec(decoded: dict):
    assert decoded["ffmpeg_major"] == 8  # PyAV 18's FFmpeg, found through the links, not a system copy


@pytest.mark.parametrize("key", ["corpus0", "corpus1", "shots"])
def test_torchcodec_cuts_the_same_clips_as_decord_with_near_identical_pixels(decoded: dict, key: str):
    tc, dc = decoded[key, "torchcodec"], decoded[key, "decord"]
    assert tc["report"]["decoder"] == "torchcodec" and tc["report"]["fallback_reason"] == ""
    assert tc["spans"] == dc["spans"] and len(tc["spans"]) > 0
    assert tc["report"]["frame_count"] == dc["report"]["frame_count"]
    assert tc["report"]["cuts"] == dc["report"]["cuts"]
    for a, b in zip(tc["frames"], dc["frames"], strict=True):
        assert a.shape == b.shape == (8, 48, 64, 3) and a.dtype == np.uint8
        # Both scale with FFmpeg's swscale, with their own filter settings: a level or two apart on average.
        assert np.abs(a.astype(np.int16) - b).mean() < 4


def test_torchcodec_decodes_a_rotated_video_upright(decoded: dict):
    frame = decoded["phone", "torchcodec"]["frames"][0][0]
    img = np.zeros((96, 128, 3), np.uint8)
    img[:24, :32] = 255
    upright = np.rot90(img)
    assert frame.shape == (64, 48, 3)
    corners = {(r, c): frame[r, c].mean() > 128 for r in (0, -1) for c in (0, -1)}
    assert corners == {(r, c): upright[r, c].mean() > 128 for r in (0, -1) for c in (0, -1)}


def test_torchcodec_places_variable_rate_frames_by_their_timestamps(decoded: dict):
    out = decoded["vfr", "torchcodec"]
    assert len(out["spans"]) == 2 and out["report"]["frame_count"] == 80
    for (start, end), frames in zip(out["spans"], out["frames"], strict=True):
        seen_s = frames.reshape(8, -1).mean(axis=1) / 60
        wanted_s = start / out["fps"] + (np.arange(8) + 0.5) * (end - start) / out["fps"] / 8
        assert np.abs(seen_s - wanted_s).max() < 0.12, (start, end, seen_s, wanted_s)


def test_a_file_torchcodec_cannot_read_falls_back_to_pyav_and_the_reject_names_both(decoded: dict):
    report = decoded["stub", "torchcodec"]["report"]
    assert decoded["stub", "torchcodec"]["spans"] == []
    assert [a.split(":")[0] for a in report["attempts"]] == ["torchcodec", "pyav"]
    assert "pyav" in report["error"]


_BLOCKED = """
import sys
if sys.argv[2] == "not installed":
    sys.modules["torchcodec"] = None
from sora_model.video.clips import ClipConfig, sample_indices
from sora_model.video.decode import DecodeConfig, DecodeReport, decode_clips
from sora_model.video.probe import probe_file
path = sys.argv[1]
try:
    decode_clips(path, probe_file(path), ClipConfig(), DecodeConfig(backend="torchcodec"),
                 lambda s: [sample_indices(s, 8)], DecodeReport()).__next__()
except ImportError as e:
    print(e)
    sys.exit(3)
"""


def _system_ffmpeg() -> bool:
    import ctypes.util

    return ctypes.util.find_library("avutil") is not None


@pytest.mark.parametrize("why", ["not installed", "no FFmpeg"])
def test_a_torchcodec_that_cannot_load_stops_with_what_to_install_instead_of_falling_back(corpus: Path,
                                                                                           manifest: dict, why: str):
    # "no FFmpeg": torchcodec imports, but no FFmpeg is on the library path (PyAV's is under other names).
    if why == "no FFmpeg" and _system_ffmpeg():
        pytest.skip("this machine has FFmpeg's shared libraries installed: torchcodec loads them")
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    proc = _run(_BLOCKED, [str(corpus / manifest["videos"][0]["name"]), why], env)
    assert proc.returncode == 3, proc.stdout + proc.stderr[-2000:]
    assert "decode.backend='torchcodec'" in proc.stdout and "apt-get install" in proc.stdout
    assert "decode.backend='decord'" in proc.stdout
