"""Decoder containment with real signals and a real memory cap on real encoded videos."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from sora_model.video import contain, rejects
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig, uniform_rows
from sora_model.video.contain import DecoderProcess, Limits
from sora_model.video.decode import DecodeConfig
from sora_model.video.process import _decode_job, decode_video, probe_video
from sora_model.video.writers import encode_frames

GENEROUS = Limits(timeout_s=120, max_memory_mb=2048)


@pytest.fixture(scope="module")
def large_video(tmp_path_factory: pytest.TempPathFactory) -> str:
    """1280x720, 2 s of noise (incompressible: big frames, big decoder buffers)."""
    path = tmp_path_factory.mktemp("large") / "large.mp4"
    rng = np.random.default_rng(0)
    encode_frames(path, (rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(50)), 1280, 720, 25, False)
    return str(path)


def _job(uri: str, decode: DecodeConfig = DecodeConfig()) -> tuple:
    probed = probe_video(uri, CleanConfig())
    return (probed, ClipConfig(), decode, uniform_rows(decode.frames_per_clip))


def _video(corpus: Path, manifest: dict) -> str:
    return str(corpus / max(manifest["videos"], key=lambda v: v["duration_s"])["name"])


def test_a_segfault_in_the_decoder_is_a_reject_and_the_next_video_decodes(corpus: Path, manifest: dict):
    proc = DecoderProcess()
    try:
        crashed = proc.run(_decode_job, _job(_video(corpus, manifest)), GENEROUS,
                           on_start=lambda pid: os.kill(pid, signal.SIGSEGV))
        assert crashed.failure is not None and crashed.failure.reason == rejects.DECODER_CRASH
        assert "SIGSEGV" in crashed.failure.detail
        again = proc.run(_decode_job, _job(_video(corpus, manifest)), GENEROUS)
        assert again.failure is None and again.items[-1][0] == "report" and len(again.items) > 1
    finally:
        proc.close()


def test_a_hung_decoder_is_killed_at_the_time_cap(corpus: Path, manifest: dict):
    proc = DecoderProcess()
    pids = []
    try:
        def stop(pid: int) -> None:
            pids.append(pid)
            os.kill(pid, signal.SIGSTOP)

        out = proc.run(_decode_job, _job(_video(corpus, manifest)), Limits(timeout_s=1.0, max_memory_mb=2048),
                       on_start=stop)
        assert out.failure is not None and out.failure.reason == rejects.DECODE_TIMEOUT
        assert "video_timeout_s=1" in out.failure.detail
        with pytest.raises(ProcessLookupError):  # killed and reaped, not left stopped
            os.kill(pids[0], 0)
    finally:
        proc.close()


def test_a_video_past_the_memory_cap_is_a_reject_and_fits_under_the_default(large_video: str):
    proc = DecoderProcess()
    try:
        job = _job(large_video, DecodeConfig(decoder_threads=2))
        fits = proc.run(_decode_job, job, GENEROUS)
        assert fits.failure is None and fits.peak_memory_mb > 12
        capped = proc.run(_decode_job, job, Limits(timeout_s=120, max_memory_mb=4))
        assert capped.failure is not None and capped.failure.reason == rejects.DECODE_OOM
        assert "video_max_memory_mb=4" in capped.failure.detail
    finally:
        proc.close()


def test_a_bug_in_the_decoding_process_is_raised_with_its_traceback(corpus: Path, manifest: dict):
    probed, clip, decode, _ = _job(_video(corpus, manifest))
    proc = DecoderProcess()
    try:
        with pytest.raises(RuntimeError, match="(?s)bug in the decoding process.*TypeError"):
            proc.run(_decode_job, (probed, clip, decode, None), GENEROUS)  # None is no picker
    finally:
        proc.close()


def test_contained_and_in_process_decoding_give_the_same_clips(corpus: Path, manifest: dict):
    probed, clip, decode, pick = _job(_video(corpus, manifest))
    inside = decode_video(probed, clip, DecodeConfig(isolate=False), pick)
    contained = decode_video(probed, clip, DecodeConfig(isolate=True), pick)
    assert contained.rejected is None and len(contained.clips) == len(inside.clips) > 0
    for (s1, r1), (s2, r2) in zip(inside.clips, contained.clips):
        assert s1 == s2 and all(np.array_equal(a, b) for a, b in zip(r1, r2))
    pid = contain.shared().pid
    assert pid is not None  # kept for the next video
    assert Path(f"/proc/{pid}/comm").read_text().strip() == contain.PROCESS_NAME  # as ps and top show it


def test_a_probe_past_its_memory_cap_is_a_probe_reject(large_video: str):
    from sora_model.video.clean import CleanConfig
    from sora_model.video.process import _probe_job
    from sora_model.video.signature import NearDupConfig

    proc = DecoderProcess()
    try:
        job = (large_video, CleanConfig(), NearDupConfig())  # the signature decodes every 720p frame
        capped = proc.run(_probe_job, job, Limits(timeout_s=120, max_memory_mb=4, stage="probe"))
        assert capped.failure is not None and capped.failure.reason == rejects.PROBE_OOM
        assert capped.failure.stage == "probe" and "probe.max_memory_mb=4" in capped.failure.detail
        assert proc.run(_probe_job, job, Limits(timeout_s=120, max_memory_mb=2048, stage="probe")).failure is None
    finally:
        proc.close()
