"""Evaluation of a model variant on a split: quality (accuracy, macro F1) and CPU cost (latency, throughput)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sora_model.dataset.catalog import DatasetVersion
from sora_model.dataset.reader import iter_eval_batches, scan_row_groups
from sora_model.deploy.variants import Predictor
from sora_model.train.metrics import classification_metrics, confusion_matrix


def split_arrays(dataset: DatasetVersion, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every clip of ``split`` (original rows, no augmented copies) as uint8 frames and labels."""
    groups, desc = scan_row_groups(dataset.shards.get(split, []))
    frames, labels = [], []
    for batch in iter_eval_batches(groups, desc, 256):
        frames.append(np.asarray(batch["frames"]))
        labels.append(np.asarray(batch["label"]))
    if not frames:
        raise ValueError(f"dataset {dataset.name!r} v{dataset.version} has no {split!r} rows to evaluate on")
    x, y = np.concatenate(frames), np.concatenate(labels)
    return (x[:limit], y[:limit]) if limit else (x, y)


def quality(predictor: Predictor, frames: np.ndarray, labels: np.ndarray, batch_size: int = 64) -> dict[str, Any]:
    preds = np.concatenate([predictor.logits(frames[i:i + batch_size]).argmax(axis=1)
                            for i in range(0, len(frames), batch_size)])
    return classification_metrics(confusion_matrix(labels, preds, len(predictor.classes)))


def speed(predictor: Predictor, frames: np.ndarray, runs: int = 100, batch_size: int = 32,
          warmup: int = 10) -> dict[str, float]:
    """Latency per clip at batch 1 (p50/p95 over ``runs`` calls) and clips/s at ``batch_size``."""
    one = frames[:1]
    for _ in range(warmup):
        predictor.logits(one)
    times = []
    for i in range(runs):
        clip = frames[i % len(frames)][None]
        start = time.perf_counter()
        predictor.logits(clip)
        times.append(time.perf_counter() - start)
    reps = max(1, -(-batch_size // len(frames)))
    batch = np.concatenate([frames] * reps)[:batch_size]
    predictor.logits(batch)
    calls, start = 0, time.perf_counter()
    while calls < 5 or time.perf_counter() - start < 1.0:
        predictor.logits(batch)
        calls += 1
    elapsed = time.perf_counter() - start
    ms = np.asarray(times) * 1000
    return {"latency_ms_p50": float(np.percentile(ms, 50)), "latency_ms_p95": float(np.percentile(ms, 95)),
            f"throughput_clips_per_s_b{batch_size}": calls * batch_size / elapsed}
