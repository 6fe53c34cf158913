"""Curate: a folder of videos -> Delta tables (files, videos, rejects, clips, datasets) + Parquet shards.

Plan of one run (the stages are listed in ``curate_stages.STAGES``):
  ingest    list every entry (driver, names only); drop those the dataset already accounts for (same uri, size,
            mtime)
  probe     executors hash and probe each new file the lake's ``files`` table does not know, and apply the per-file
            gate (to known files' stored facts: on the driver) -> staging Parquet (runs once)
  clean     exact duplicates by sha256 and near-duplicates by frame hashes (in this run and against the
            lake); labels joined
  decode    executors clip, decode, augment and write shards per task attempt -> staging Parquet (runs once)
  tables    MERGE files, rejects, videos, clips (rows of this dataset only: a lake holds many)
  register  a new dataset version listing every shard of the dataset; orphan shards and staging removed

Retry safety: IDs come from content, tables are MERGEd on them, shards of a version nobody registered are
deleted before that version is written again, and files of failed task attempts are removed at the end.
"""

from __future__ import annotations

import dataclasses

from pyspark.sql import SparkSession

from pipelines.curate_config import CurateConfig, check_build_settings
from pipelines.curate_stages import STAGES
from pipelines.curate_state import CurateState, latest_dataset
from pipelines.stage import SparkWork, check_plan, run_stages
from pipelines.summary import CurateSummary
from pipelines.tables import Tables
from sora_model import config as config_lib
from sora_model.lake import storage
from sora_model.lake.ids import new_run_id
from sora_model.lake.lock import lake_lock
from sora_model.video import decode as decode_lib
from sora_model.video import shot_detectors

__all__ = ["CurateConfig", "CurateSummary", "run_curate"]


_INITIAL = {f.name for f in dataclasses.fields(CurateState) if f.default is dataclasses.MISSING}
check_plan(STAGES, _INITIAL)


def run_curate(spark: SparkSession, cfg: CurateConfig, run_id: str | None = None) -> CurateSummary:
    """Run every stage once; returns the summary (also saved as <lake>/runs/<run_id>/summary.json)."""
    if cfg.clip.mode == "shots":
        shot_detectors.require(cfg.clip.cut_detector)  # here, before any work, rather than in every task
    decode_lib.require(cfg.decode.backend)
    run_id = run_id or new_run_id()
    # Held from reading the latest version to registering the next: two runs must not both make version k+1.
    with lake_lock(cfg.lake_uri, "curate", run_id, cfg.lock):
        return _run_curate(spark, cfg, run_id)


def _run_curate(spark: SparkSession, cfg: CurateConfig, run_id: str) -> CurateSummary:
    tables = Tables(spark, cfg.lake_uri, cfg.driver_merge_max_rows)
    tables.upgrade("videos", "rejects", "clips")
    layout = tables.layout
    latest = latest_dataset(tables, cfg.dataset)
    version = (latest["version"] if latest else 0) + 1
    state = CurateState(
        spark=spark, cfg=cfg, run_id=run_id, tables=tables, layout=layout,
        summary=CurateSummary(run_id=run_id, dataset=cfg.dataset, dataset_version=None,
                              spark_master=spark.sparkContext.master,
                              spark_cores=spark.sparkContext.defaultParallelism), latest=latest,
        version=version, out_uri=layout.dataset_version(cfg.dataset, version), staging=layout.staging(run_id),
        cores=spark.sparkContext.defaultParallelism)
    storage.write_text(storage.join(layout.run_record(run_id), "config.yaml"), config_lib.to_yaml(cfg))
    check_build_settings(latest, cfg)
    work: dict[str, SparkWork] = {}
    try:
        stage_s = run_stages(STAGES, state, spark.sparkContext, work)
    finally:
        for df in state.cached:
            df.unpersist()
    s, latest = state.summary, state.latest
    s.stage_s = stage_s
    s.stage_work = {k: dataclasses.asdict(v) for k, v in work.items()}
    s.dataset_rows_per_split = dict(latest["rows_per_split"]) if latest else {}
    s.dataset_shards = len(latest["shard_uris"]) if latest else 0
    s.check_invariant()
    s.save(layout)
    return s
