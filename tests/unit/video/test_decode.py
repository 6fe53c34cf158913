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


def _write(path: Path, frames: list[tuple[float, np.ndarray]], codec: str = "libx264", rate: int = 20,
           rotation: int = 0) -> None:
    """Encode (time_s, rgb) frames with exactly those presentation times."""
    from fractions import Fraction

    import av

    h, w = frames[0][1].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            s.set_display_rotation(rotation)
        for i, (t, img) in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if codec == "libx264":
                frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def _decode_all(path: Path, clip: ClipConfig = ClipConfig(), decode: DecodeConfig = DecodeConfig()):
    probe = probe_file(str(path))
    report = DecodeReport()
    return probe, list(decode_clips(str(path), probe, clip, decode, lambda s: [sample_indices(s, 8)], report)), \
        report


def test_variable_frame_rate_clips_are_cut_by_time_not_by_frame_count(tmp_path: Path):
    # 2 s at 30 fps, then 2 s at 10 fps; each frame's grey level is its time (x 60).
    times = [i / 30 for i in range(60)] + [2 + i / 10 for i in range(20)]
    _write(tmp_path / "vfr.mp4", [(t, np.full((96, 128, 3), int(t * 60), np.uint8)) for t in times])
    probe, clips, report = _decode_all(tmp_path / "vfr.mp4")
    assert len(clips) == 2 and report.frame_count == 80
    for span, rows in clips:
        start_s = span.start_frame / probe.fps
        seen_s = rows[0].reshape(8, -1).mean(axis=1) / 60
        wanted_s = start_s + (np.arange(8) + 0.5) * span.length / probe.fps / 8
        # By frame count the first clip would hold 42 frames at 30 fps: 1.4 s instead of 2.
        assert np.abs(seen_s - wanted_s).max() < 0.12, (span, seen_s, wanted_s)


def test_a_rotated_video_is_decoded_upright(tmp_path: Path):
    img = np.zeros((96, 128, 3), np.uint8)
    img[:24, :32] = 255  # a white block top left, stored sideways
    _write(tmp_path / "phone.mp4", [(i / 15, img) for i in range(30)], rate=15, rotation=90)
    probe, clips, _ = _decode_all(tmp_path / "phone.mp4", decode=DecodeConfig(height_px=64, width_px=48))
    assert probe.rotation_deg == 90
    frame = clips[0][1][0][0]
    assert frame.shape == (64, 48, 3)
    upright = np.rot90(img)  # what decord shows at full size, and players show
    corners = {(r, c): frame[r, c].mean() > 128 for r in (0, -1) for c in (0, -1)}
    assert corners == {(r, c): upright[r, c].mean() > 128 for r in (0, -1) for c in (0, -1)}


def test_clips_come_from_what_decodes_and_the_reject_says_what_each_decoder_got(tmp_path: Path):
    rng = np.random.default_rng(0)
    frames = [(i / 25, rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)) for i in range(100)]
    _write(tmp_path / "full.flv", frames, codec="flv", rate=25)
    data = (tmp_path / "full.flv").read_bytes()
    (tmp_path / "cut.flv").write_bytes(data[: int(len(data) * 0.45)])  # about 44 of 100 frames
    (tmp_path / "stub.flv").write_bytes(data[: int(len(data) * 0.2)])
    probe, clips, report = _decode_all(tmp_path / "cut.flv")
    assert probe.frame_count == 100  # the header still promises 4 s
    assert len(clips) == 1 and 25 <= clips[0][0].length < 50  # the decoded part, cut short but kept
    assert report.clips_planned == 2 and report.clips_decoded == 1
    _, none, report = _decode_all(tmp_path / "stub.flv")
    assert none == [] and [a.split(":")[0] for a in report.attempts] == ["decord", "pyav"]
    assert "0 clips" in report.error and "pyav" in report.error
