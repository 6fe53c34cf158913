from __future__ import annotations

from pathlib import Path

import numpy as np

from sora_model.deploy import scoring
from sora_model.lake.ids import clip_id
from sora_model.video import rejects
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig, uniform_rows
from sora_model.video.decode import DecodeConfig
from sora_model.video.process import open_video
from sora_model.video.rejects import Rejected
from tests.unit.deploy.conftest import FRAMES_SHAPE


def test_the_model_is_loaded_once_per_process(checkpoint: Path):
    before = scoring.loads_so_far()
    first = scoring.predictor(str(checkpoint), threads=1)
    assert scoring.predictor(str(checkpoint), threads=1) is first
    assert scoring.loads_so_far() == before + 1


def test_every_clip_of_a_video_gets_one_prediction(checkpoint: Path, corpus: Path, manifest: dict):
    uri = str(corpus / manifest["videos"][0]["name"])
    model = scoring.predictor(str(checkpoint), threads=1)
    decode = DecodeConfig().with_frames_shape(FRAMES_SHAPE)
    preds, rejected = scoring.score_video(uri, model, CleanConfig(), ClipConfig(), decode, batch_size=3)
    assert rejected is None
    # The same per-video path as curation: the same spans, hence the same clip ids.
    video = open_video(uri, CleanConfig(), ClipConfig(), decode, uniform_rows(decode.frames_per_clip))
    spans = [span for span, _ in video.clips]
    assert [p["clip_id"] for p in preds] == [clip_id(video.video.video_id, s.start_frame, s.end_frame)
                                             for s in spans]
    assert [p["clip_index"] for p in preds] == list(range(len(spans)))
    for p in preds:
        assert abs(sum(p["probabilities"]) - 1) < 1e-9 and p["end_s"] > p["start_s"]
        assert p["predicted_label"] == int(np.argmax(p["probabilities"]))
        assert p["predicted_label_name"] == model.classes[p["predicted_label"]]


def test_a_bad_file_is_a_reject_not_an_exception(checkpoint: Path, corpus: Path, manifest: dict):
    bad = next(b for b in manifest["bad_files"] if b["kind"] == "random_bytes")
    model = scoring.predictor(str(checkpoint), threads=1)
    preds, rejected = scoring.score_video(str(corpus / bad["name"]), model, CleanConfig(), ClipConfig(),
                                          DecodeConfig().with_frames_shape(FRAMES_SHAPE))
    assert preds == [] and isinstance(rejected, Rejected) and rejected.reason == rejects.NOT_VIDEO
