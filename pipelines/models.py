"""Register checkpoints and variants in the lake's ``models`` Delta table, from the model cards in the lake
(MERGE on run_id, epoch, variant), and point aliases (``production``) at them in the ``aliases`` table."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

from pipelines.session import SparkConfig
from pipelines.tables import Tables
from sora_model.lake.aliases import AliasAction, AliasEntry, AliasHistory
from sora_model.lake.card import ModelCard, model_id, parse_model_id, read_card
from sora_model.lake.layout import LakeLayout
from sora_model.lake.lock import LockConfig, lake_lock
from sora_model.lake.object_store import ObjectStoreConfig

_REGISTER_LOCK = LockConfig(wait_s=3600.0)
"""Registration is a moment's write after a long training or compression: it waits for the lake rather than
throw that work away."""


def models_row(card: ModelCard, uri: str, metrics: dict[str, Any], config_yaml: str) -> dict[str, Any]:
    """The models table's row of a checkpoint or variant."""
    return {
        "run_id": card.run_id, "epoch": int(card.epoch), "step": int(card.step), "variant": card.variant,
        "uri": uri, "model_file": card.model_file, "sha256": card.sha256, "size_bytes": int(card.size_bytes),
        "metrics_json": json.dumps(metrics), "dataset": card.dataset, "dataset_version": int(card.dataset_version),
        "parent_uri": card.parent_uri, "config_yaml": config_yaml,
        "created_at": datetime.fromisoformat(card.created_at),
    }


def register_checkpoints(spark: SparkSession | None, lake_uri: str, run_id: str, config_yaml: str) -> int:
    """MERGE one row per complete checkpoint of ``run_id`` found in the lake; returns how many the run has.
    The rows are written with delta-rs: ``spark`` may be None (torchrun, python: no JVM to start)."""
    rows = []
    for ckpt in LakeLayout.of(lake_uri).checkpoints(run_id):
        card = read_card(ckpt)
        rows.append(models_row(card, ckpt, card.metrics, config_yaml))
    if rows:
        with lake_lock(lake_uri, "register", run_id, _REGISTER_LOCK):
            Tables(spark, lake_uri).merge_rows("models", rows)
    return len(rows)


def register_variants(spark: SparkSession | None, lake_uri: str, checkpoint: ModelCard, rows: list[dict[str, Any]],
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
        with lake_lock(lake_uri, "register", checkpoint.run_id, _REGISTER_LOCK):
            Tables(spark, lake_uri).merge_rows("models", out)
    return len(out)


def model_row(tables: Tables, wanted: str) -> Row:
    """The models-table row of ``<run_id>/<epoch>/<variant>``; ValueError when there is none."""
    parsed = parse_model_id(wanted)
    if parsed is None:
        raise ValueError(f"{wanted!r} is not a models-table id <run_id>/<epoch>/<variant>")
    run_id, epoch, variant = parsed
    rows = tables.read("models").where((F.col("run_id") == run_id) & (F.col("epoch") == epoch)
                                       & (F.col("variant") == variant)).collect()
    if not rows:
        raise ValueError(f"no model {wanted!r} in {tables.layout.table('models')} (register it first: training "
                         f"and jobs/compress.py do)")
    return rows[0]


def _id(row: Row) -> str:
    return model_id(row["run_id"], row["epoch"], row["variant"])


def alias_history(tables: Tables, alias: str) -> AliasHistory:
    return AliasHistory.from_rows(alias, tables.read("aliases").where(F.col("alias") == alias).collect())


def current_alias(tables: Tables, alias: str) -> AliasEntry:
    """Where ``alias`` points now; ValueError, naming the aliases there are, when it was never set."""
    entry = alias_history(tables, alias).current
    if entry is None:
        known = sorted({r["alias"] for r in tables.read("aliases").select("alias").distinct().collect()})
        raise ValueError(f"alias {alias!r} is not set in {tables.layout.table('aliases')} (aliases there: "
                         f"{', '.join(known) or 'none'}); set it with "
                         f"`python jobs/alias.py --alias {alias} --set <model id>`")
    return entry


def _write(tables: Tables, entry: AliasEntry) -> AliasEntry:
    tables.merge_rows("aliases", [dataclasses.asdict(entry)], update=False)
    got = alias_history(tables, entry.alias).entries
    mine = next((e for e in got if e.seq == entry.seq), None)
    if mine is None or (mine.model_id, mine.deployed_id, mine.action, mine.set_by, mine.reason) != (
            entry.model_id, entry.deployed_id, entry.action, entry.set_by, entry.reason):
        raise RuntimeError(f"alias {entry.alias!r} was changed by another run at the same time (its entry "
                           f"#{entry.seq} is {mine.describe() if mine else 'missing'}); look at the history with "
                           f"`python jobs/alias.py --alias {entry.alias}` and run again")
    return entry


def set_alias(tables: Tables, alias: str, target: str, reason: str, action: AliasAction = "set",
              set_by: str = "cli") -> AliasEntry | None:
    """Point ``alias`` at a model: a checkpoint id (it serves itself) or a variant id (its parent checkpoint,
    serving that variant). Returns the new entry, or None when the alias already points there."""
    row = model_row(tables, target)
    if row["variant"] == "fp32":
        checkpoint, deployed = row, None
    else:
        parents = tables.read("models").where((F.col("uri") == row["parent_uri"]) & (F.col("variant") == "fp32"))
        found = parents.collect()
        if not found:
            raise ValueError(f"variant {target} names parent {row['parent_uri']}, which is not a registered "
                             f"checkpoint in {tables.layout.table('models')}")
        checkpoint, deployed = found[0], row
    entry = alias_history(tables, alias).point(
        _id(checkpoint), checkpoint["uri"], _id(deployed) if deployed else None, deployed["uri"] if deployed else None,
        action, reason, set_by, datetime.now(timezone.utc))
    return _write(tables, entry) if entry else None


def rollback_alias(tables: Tables, alias: str, reason: str, set_by: str = "cli") -> AliasEntry:
    """Point ``alias`` back at what it pointed at before its current entry."""
    return _write(tables, alias_history(tables, alias).rollback(reason, set_by, datetime.now(timezone.utc)))


@dataclass(frozen=True, kw_only=True)
class AliasConfig:
    lake_uri: str = "lake"
    """Root of the lake whose aliases table to read or change."""
    spark: SparkConfig = field(default_factory=lambda: SparkConfig(master="local[1]", app_name="sora_model-alias",
                                                                   conf={"spark.ui.enabled": "false"}))
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)
    lock: LockConfig = field(default_factory=lambda: LockConfig(wait_s=600.0))
    """One writer per lake: an alias change waits (up to wait_s) for a run writing the lake."""
