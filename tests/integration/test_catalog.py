"""Trainers find shards through the Spark-written datasets table with delta-rs, without a JVM."""

from __future__ import annotations

import pytest

from sora_model.dataset.catalog import load_dataset
from sora_model.dataset.reader import ReaderConfig, iter_batches, scan_row_groups


def test_delta_rs_reads_the_dataset_spark_registered(curated):
    (row,) = curated["tables"].read("datasets").collect()
    ds = load_dataset(str(curated["lake"]), "demo")
    assert ds.version == row["version"] == 1
    assert sorted(u for uris in ds.shards.values() for u in uris) == sorted(row["shard_uris"])
    assert ds.rows_per_split == dict(row["rows_per_split"])
    assert ds.frames_shape == [4, 32, 32, 3] and ds.schema["frames"]["layout"] == "THWC"


def test_reader_yields_every_train_row_once_per_epoch(curated):
    ds = load_dataset(str(curated["lake"]), "demo")
    groups, desc = scan_row_groups(ds.shards["train"])
    cfg = ReaderConfig(batch_size=1, shuffle=True)
    labels = [b["label"][0] for b in iter_batches(groups, desc, cfg, 0, 0, 1)]
    assert len(labels) == ds.rows_per_split["train"]


def test_unknown_dataset_or_version_is_a_clear_error(curated):
    with pytest.raises(ValueError, match="not registered"):
        load_dataset(str(curated["lake"]), "nope")
    with pytest.raises(ValueError, match="no version 9"):
        load_dataset(str(curated["lake"]), "demo", version=9)
