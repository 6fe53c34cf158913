"""Register training checkpoints in the lake's ``models`` Delta table (written by Spark, MERGE on run/epoch)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.lake import Lake, table_schema
from sora_model import storage
from sora_model.train import checkpoint_dirs


def register_checkpoints(spark: SparkSession, lake_uri: str, run_id: str, config_yaml: str) -> int:
    """MERGE one row per complete checkpoint of ``run_id``; returns how many checkpoints the run has."""
    lake = Lake(spark, lake_uri)
    run_dir = Path(storage.normalize(lake_uri)) / "models" / run_id
    rows = []
    for ckpt in checkpoint_dirs(run_dir):
        meta = json.loads((ckpt / "meta.json").read_text())
        rows.append({
            "run_id": run_id, "epoch": int(meta["epoch"]), "step": int(meta["step"]), "variant": meta["variant"],
            "uri": str(ckpt), "model_file": meta["model_file"], "sha256": meta["sha256"],
            "size_bytes": int(meta["size_bytes"]), "metrics_json": json.dumps(meta["metrics"]),
            "dataset": meta["dataset"], "dataset_version": int(meta["dataset_version"]),
            "parent_uri": None, "config_yaml": config_yaml,
            "created_at": datetime.fromisoformat(meta["created_at"]),
        })
    if rows:
        lake.merge("models", spark.createDataFrame(rows, table_schema("models")))
    return len(rows)


def register_variants(spark: SparkSession, lake_uri: str, run_id: str, epoch: int, step: int, dataset: str,
                      dataset_version: int, rows: list[dict], config_yaml: str) -> int:
    """MERGE one row per compressed variant (key run_id, epoch, variant), each naming its parent checkpoint.

    ``rows`` come from evaluation; the fp32 checkpoint's own row (registered by training) is left as it is.
    """
    lake = Lake(spark, lake_uri)
    now = datetime.now().astimezone()
    out = []
    for r in rows:
        out.append({
            "run_id": run_id, "epoch": int(epoch), "step": int(step), "variant": r["variant"], "uri": r["uri"],
            "model_file": r["model_file"], "sha256": r["sha256"], "size_bytes": int(r["size_bytes"]),
            "metrics_json": json.dumps({**r["metrics"], "params": r["params"], "format": r["format"]}),
            "dataset": dataset, "dataset_version": int(dataset_version), "parent_uri": r["parent_uri"],
            "config_yaml": config_yaml, "created_at": now,
        })
    variants = [r for r in out if r["variant"] != "fp32"]
    if variants:
        lake.merge("models", spark.createDataFrame(variants, table_schema("models")))
    return len(variants)
