"""Per-video scoring: the same per-video path as curation (``video.process``), then a model variant.

Spark maps :func:`score_video` over partitions. The model is loaded once per worker process (:func:`predictor`
keeps it in a module-level cache keyed by the variant's URI), not once per batch or per task.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sora_model.deploy.monitoring import input_stats
from sora_model.deploy.variants import Predictor, load_predictor
from sora_model.lake import storage
from sora_model.lake.ids import clip_id as make_clip_id
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig, Span, uniform_rows
from sora_model.video.decode import DecodeConfig
from sora_model.video.process import open_video
from sora_model.video.rejects import Rejected

_PREDICTORS: dict[str, Predictor] = {}


def predictor(variant_uri: str, threads: int | None = None) -> Predictor:
    """The variant at ``variant_uri``, loaded on first use in this process and kept."""
    key = storage.normalize(variant_uri)
    if key not in _PREDICTORS:
        with storage.open_local_dir(variant_uri) as local:
            _PREDICTORS[key] = load_predictor(local, threads=threads)
    return _PREDICTORS[key]


def loads_so_far() -> int:
    """How many models this process has loaded (the once-per-process promise is tested with it)."""
    return len(_PREDICTORS)


def score_video(uri: str, model: Predictor, clean: CleanConfig, clip: ClipConfig, decode: DecodeConfig,
                batch_size: int = 32, max_duration_s: float | None = None
                ) -> tuple[list[dict[str, Any]], Rejected | None]:
    """Predictions for every clip of the video at ``uri``, or why it has none (never raises for a bad file); a
    video longer than ``max_duration_s`` (when given) is rejected as too_long without being decoded."""
    video = open_video(uri, clean, clip, decode, uniform_rows(decode.frames_per_clip), max_duration_s)
    if isinstance(video, Rejected):
        return [], video
    spans: list[Span] = [span for span, _ in video.clips]
    frames: list[np.ndarray] = [rows[0] for _, rows in video.clips]
    if video.rejected:
        return [], video.rejected
    video_id = video.video.video_id
    probe = video.video.probe
    out: list[dict[str, Any]] = []
    for start in range(0, len(frames), batch_size):
        batch = np.stack(frames[start:start + batch_size])
        began = time.perf_counter()
        probs = model.probabilities(batch)
        per_clip_ms = (time.perf_counter() - began) * 1000 / len(batch)
        for k, p in enumerate(probs):
            index = start + k
            span = spans[index]
            start_s, end_s = video.seconds(span)
            label = int(np.argmax(p))
            out.append({
                "clip_id": make_clip_id(video_id, span.start_frame, span.end_frame), "video_id": video_id,
                "uri": uri, "clip_index": index, "start_s": start_s, "end_s": end_s,
                "predicted_label": label, "predicted_label_name": model.classes[label],
                "probabilities": [float(x) for x in p],
                # What monitoring compares with the training data, measured on the frames the model saw.
                **dict(zip(("brightness", "motion_energy"), input_stats(batch[k]))),
                "latency_ms": per_clip_ms, "width_px": probe.width_px, "height_px": probe.height_px,
                "codec": probe.codec,
            })
    return out, None
