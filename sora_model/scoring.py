"""Per-video scoring: probe, clip and decode a new video exactly as curation does, then run a model variant.

Spark maps :func:`score_video` over partitions. The model is loaded once per worker process (:func:`predictor`
keeps it in a module-level cache keyed by the variant's URI), not once per batch or per task.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from sora_model import rejects, storage
from sora_model.clean import CleanConfig
from sora_model.clips import ClipConfig, Span, sample_indices
from sora_model.decode import DecodeConfig, DecodeReport, decode_clips
from sora_model.ids import clip_id as make_clip_id
from sora_model.probe import ProbeResult
from sora_model.variants import Predictor, load_predictor
from sora_model.video_tasks import PROBE_FIELDS, probe_one

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


def decode_config_for(frames_shape: list[int] | None, base: DecodeConfig) -> DecodeConfig:
    """The decode settings a model needs: its clip length and frame size, the rest from ``base``."""
    if not frames_shape:
        raise ValueError("the model's meta.json has no frames_shape (a checkpoint written before it was recorded); "
                         "score with one of its compressed variants, or retrain")
    t, h, w = int(frames_shape[0]), int(frames_shape[1]), int(frames_shape[2])
    return dataclasses.replace(base, frames_per_clip=t, height_px=h, width_px=w)


def score_video(uri: str, model: Predictor, clean: CleanConfig, clip: ClipConfig,
                decode: DecodeConfig, batch_size: int = 32) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Predictions for every clip of the video at ``uri``, or a reject record (never raises for a bad file)."""
    probed = probe_one(uri, clean)
    if probed["reject_reason"] is not None:
        return [], {"video_id": probed["video_id"], "stage": probed["reject_stage"],
                    "reason": probed["reject_reason"], "detail": probed["reject_detail"]}
    video_id = probed["video_id"]
    probe = ProbeResult(**{k: probed[k] for k in PROBE_FIELDS})
    count = decode.frames_per_clip
    report = DecodeReport()
    spans: list[Span] = []
    frames: list[np.ndarray] = []
    try:
        with storage.open_local(uri) as path:
            for span, rows in decode_clips(path, probe, clip, decode, lambda s: [sample_indices(s, count)],
                                           report):
                spans.append(span)
                frames.append(rows[0])
    except OSError as e:
        report.error = f"{type(e).__name__}: {e}"
    if not spans:
        return [], {"video_id": video_id, "stage": "decode", "reason": rejects.UNDECODABLE,
                    "detail": report.error or report.fallback_reason or f"no clip of at least {clip.min_clip_len_s} s"}
    fps = float(probe.fps)
    out: list[dict[str, Any]] = []
    for start in range(0, len(frames), batch_size):
        probs = model.probabilities(np.stack(frames[start:start + batch_size]))
        for k, p in enumerate(probs):
            index = start + k
            span = spans[index]
            label = int(np.argmax(p))
            out.append({
                "clip_id": make_clip_id(video_id, span.start_frame, span.end_frame), "video_id": video_id,
                "uri": uri, "clip_index": index, "start_s": span.start_frame / fps, "end_s": span.end_frame / fps,
                "predicted_label": label, "predicted_label_name": model.classes[label],
                "probabilities": [float(x) for x in p],
            })
    return out, None
