from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sora_model.dataset.catalog import DatasetVersion
from sora_model.dataset.reader import ShardError
from sora_model.dataset.schema import describe, schema_with_metadata
from sora_model.dataset.shards import ShardConfig, ShardWriter
from sora_model.deploy.evaluation import quality, speed, split_arrays
from sora_model.deploy.variants import load_predictor
from tests.unit.deploy.conftest import CLASSES, FRAMES_SHAPE


def _dataset(tmp_path: Path, rows: int) -> DatasetVersion:
    writer = ShardWriter(str(tmp_path / "shards"), "t", schema_with_metadata(describe(FRAMES_SHAPE, CLASSES, "d", 1)),
                         ShardConfig(shard_size_mb=1, row_group_size_mb=0.05))
    rng = np.random.default_rng(0)
    for i in range(rows):
        writer.write({"clip_id": f"c{i}", "video_id": "v", "label": i % 3, "label_name": CLASSES[i % 3],
                      "split": "test", "aug_index": 0,
                      "frames": rng.integers(0, 256, FRAMES_SHAPE, dtype=np.uint8).tobytes(),
                      "frames_shape": FRAMES_SHAPE})
    uris = [f.uri for f in writer.close()]
    return DatasetVersion(name="d", version=1, shards={"test": uris}, rows_per_split={"test": rows},
                          frames_shape=FRAMES_SHAPE, classes=CLASSES, schema={})


def test_split_arrays_reads_every_row_of_the_split(tmp_path: Path):
    frames, labels = split_arrays(_dataset(tmp_path, 20), "test")
    assert frames.shape == (20, *FRAMES_SHAPE) and list(labels) == [i % 3 for i in range(20)]
    with pytest.raises(ShardError, match="no shards given"):
        split_arrays(_dataset(tmp_path / "b", 3), "val")


def test_quality_counts_what_the_model_predicts(checkpoint: Path, tmp_path: Path):
    predictor = load_predictor(checkpoint, threads=1)
    frames, _ = split_arrays(_dataset(tmp_path, 12), "test")
    predicted = predictor.logits(frames).argmax(axis=1)
    assert quality(predictor, frames, predicted, batch_size=5)["accuracy"] == 1.0
    wrong = (predicted + 1) % 3
    assert quality(predictor, frames, wrong)["accuracy"] == 0.0


def test_speed_reports_latency_percentiles_and_throughput(checkpoint: Path, tmp_path: Path):
    frames, _ = split_arrays(_dataset(tmp_path, 4), "test")
    out = speed(load_predictor(checkpoint, threads=1), frames, runs=5, batch_size=8, warmup=1)
    assert 0 < out["latency_ms_p50"] <= out["latency_ms_p95"] and out["throughput_clips_per_s_b8"] > 0
