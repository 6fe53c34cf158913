from __future__ import annotations

from pathlib import Path

import decord
import numpy as np

from sora_model.video.clips import ClipConfig, sample_indices
from sora_model.video.decode import DecodeConfig, DecodeReport, decode_clips
from sora_model.video.frames import center_crop, resize_dims
from sora_model.video.probe import probe_file


def _pick(span):
    return [sample_indices(span, 8)]


def test_sequential_decode_matches_random_access_frames(corpus: Path, manifest: dict):
    spec = manifest["videos"][0]
    path = str(corpus / spec["name"])
    probe = probe_file(path)
    cfg = DecodeConfig(frames_per_clip=8, height_px=48, width_px=64)
    report = DecodeReport()
    clips = list(decode_clips(path, probe, ClipConfig(), cfg, _pick, report))
    assert report.decoder == "decord" and report.clips_decoded == len(clips) > 0
    w, h = resize_dims(probe.width_px, probe.height_px, 64, 48)
    vr = decord.VideoReader(path, width=w, height=h, num_threads=1)
    for span, (frames,) in clips:
        expected = center_crop(vr.get_batch(sample_indices(span, 8).tolist()).asnumpy(), 48, 64)
        assert frames.shape == (8, 48, 64, 3) and frames.dtype == np.uint8
        assert np.array_equal(frames, expected)


def test_truncated_mp4_falls_back_to_pyav_and_keeps_complete_clips(corpus: Path):
    path = str(corpus / "incoming/truncated_partial.mp4")
    probe = probe_file(path)
    report = DecodeReport()
    clips = list(decode_clips(path, probe, ClipConfig(), DecodeConfig(), _pick, report))
    assert report.decoder == "pyav"
    assert "decord" in report.fallback_reason
    assert 0 < len(clips) < report.clips_planned
    # Clips end before the data runs out: nothing was invented past the truncation.
    assert max(span.end_frame for span, _ in clips) <= report.frame_count


def test_shots_mode_clips_stay_inside_shots(corpus: Path, manifest: dict):
    spec = next(v for v in manifest["videos"] if v["cut_frame"] is not None)
    path = str(corpus / spec["name"])
    report = DecodeReport()
    clips = list(decode_clips(path, probe_file(path), ClipConfig(mode="shots"), DecodeConfig(), _pick, report))
    cut = spec["cut_frame"]
    assert report.cuts == [cut]
    assert clips and all(not (s.start_frame < cut < s.end_frame) for s, _ in clips)


def test_pyav_disabled_means_no_fallback(corpus: Path):
    path = str(corpus / "incoming/truncated_partial.mp4")
    report = DecodeReport()
    clips = list(decode_clips(path, probe_file(path), ClipConfig(), DecodeConfig(pyav_fallback=False), _pick,
                              report))
    assert clips == [] and report.error


def test_output_width_decord_garbles_is_worked_around(tmp_path: Path):
    # decord 0.6.0 returns (64, 72, 4) for a 72x64 output; a 160x142 source resizes to exactly that.
    from sora_model.video.synth import VideoSpec, render_video

    spec = VideoSpec(name="v.mp4", label_name="left", width_px=160, height_px=142, fps=15, duration_s=2.0, seed=1)
    render_video(spec, tmp_path)
    path = str(tmp_path / "v.mp4")
    probe = probe_file(path)
    assert resize_dims(probe.width_px, probe.height_px, 64, 64) == (72, 64)
    report = DecodeReport()
    clips = list(decode_clips(path, probe, ClipConfig(), DecodeConfig(height_px=64, width_px=64), _pick, report))
    assert report.decoder == "decord" and clips
    assert all(frames.shape == (8, 64, 64, 3) for _, (frames,) in clips)
