"""Register checkpoints and variants in the lake's ``models`` Delta table, from the model cards in the lake
(MERGE on run_id, epoch, variant)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pyspark.sql import SparkSession

from pipelines.tables import Tables, table_schema
from sora_model.lake.card import ModelCard, read_card
from sora_model.lake.layout import LakeLayout


def models_row(card: ModelCard, uri: str, metrics: dict[str, Any], config_yaml: str) -> dict[str, Any]:
    """The models table's row of a checkpoint or variant."""
    return {
        "run_id": card.run_id, "epoch": int(card.epoch), "step": int(card.step), "variant": card.variant,
        "uri": uri, "model_file": card.model_file, "sha256": card.sha256, "size_bytes": int(card.size_bytes),
        "metrics_json": json.dumps(metrics), "dataset": card.dataset, "dataset_version": int(card.dataset_version),
        "parent_uri": card.parent_uri, "config_yaml": config_yaml,
        "created_at": datetime.fromisoformat(card.created_at),
    }


def register_checkpoints(spark: SparkSession, lake_uri: str, run_id: str, config_yaml: str) -> int:
    """MERGE one row per complete checkpoint of ``run_id`` found in the lake; returns how many the run has."""
    rows = []
    for ckpt in LakeLayout.of(lake_uri).checkpoints(run_id):
        card = read_card(ckpt)
        rows.append(models_row(card, ckpt, card.metrics, config_yaml))
    if rows:
        Tables(spark, lake_uri).merge("models", spark.createDataFrame(rows, table_schema("models")))
    return len(rows)


def register_variants(spark: SparkSession, lake_uri: str, checkpoint: ModelCard, rows: list[dict[str, Any]],
                      config_yaml: str) -> int:
    """MERGE one row per compressed variant of ``checkpoint`` (evaluation rows of ``deploy.build``), each naming
    its parent checkpoint; the checkpoint's own row (registered by training) is left as it is."""
    out = []
    for r in rows:
        if r["variant"] == checkpoint.variant:
            continue
        card = read_card(r["uri"])
        metrics = {**r["metrics"], "params": r["params"], "format": r["format"]}
        out.append(models_row(card, r["uri"], metrics, config_yaml))
    if out:
        Tables(spark, lake_uri).merge("models", spark.createDataFrame(out, table_schema("models")))
    return len(out)
