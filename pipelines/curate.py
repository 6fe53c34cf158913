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
import json
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from pipelines.curate_stages import STAGES, CurateState, latest_dataset
from pipelines.ingest import ListingConfig
from pipelines.session import SparkConfig
from pipelines.stage import SparkWork, check_plan, run_stages
from pipelines.summary import CurateSummary
from pipelines.tables import DRIVER_MERGE_MAX_ROWS, Tables
from sora_model import config as config_lib
from sora_model.dataset.shards import ShardConfig
from sora_model.dataset.split import SplitConfig
from sora_model.lake import storage
from sora_model.lake.ids import new_run_id
from sora_model.lake.lock import LockConfig, lake_lock
from sora_model.lake.object_store import ObjectStoreConfig
from sora_model.video import decode as decode_lib
from sora_model.video import shot_detectors
from sora_model.video.augment import AugmentConfig
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig
from sora_model.video.decode import DecodeConfig
from sora_model.video.probe import ProbeConfig
from sora_model.video.quality import QualityConfig
from sora_model.video.signature import NearDupConfig

__all__ = ["CurateConfig", "CurateSummary", "run_curate"]


@dataclass(frozen=True, kw_only=True)
class CurateConfig:
    input_uri: str = "lake/raw/demo"
    """Folder or object-store prefix holding the corpus (listed recursively)."""
    lake_uri: str = "lake"
    """Root of the lake: Delta tables under tables/, shards under datasets/, run records under runs/."""
    dataset: str = "demo"
    """Name of the dataset to build or extend. Its build settings (clip, decode sizes, augment, split) are fixed
    at its first version; use a new name to build with other settings."""
    labels_csv: str | None = None
    """CSV with columns path,label_name (paths relative to input_uri). Default: input_uri/labels.csv if present;
    without labels every clip gets label -1."""
    listing: ListingConfig = field(default_factory=ListingConfig)
    """Which entries under the input are not corpus files (counted as ignored), and the listing's time cap.
    Every other file is probed: what is a video is decided by content, whatever its name ends with."""
    tasks_per_core: int = 4
    """Spark partitions per available core for the probe and decode stages (more evens out long videos)."""
    spark: SparkConfig = field(default_factory=SparkConfig)
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    """How each file is hashed and probed: in a contained process, under a time and memory cap."""
    clean: CleanConfig = field(default_factory=CleanConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    near_dup: NearDupConfig = field(default_factory=NearDupConfig)
    """Near-duplicate videos (same pictures re-encoded, resized, trimmed): frame signatures and an LSH join."""
    quality: QualityConfig = field(default_factory=QualityConfig)
    """Pixel quality filters per clip (thresholds; a filtered clip is recorded in clips with its reason)."""
    lock: LockConfig = field(default_factory=LockConfig)
    """One writer per lake: whether a run waits for another run writing the same lake, or stops at once."""
    driver_merge_max_rows: int = DRIVER_MERGE_MAX_ROWS
    """Rows up to which a run's new rows for a Delta table are merged in the driver with delta-rs (about 0.05 s,
    no Spark job); a larger increment goes through Spark's MERGE on the executors (about 15 Spark jobs, seconds
    each on a small cluster). 0 sends every MERGE through Spark."""

    def __post_init__(self) -> None:
        if not self.dataset or not self.dataset.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"dataset must be letters, digits, '-' or '_', got {self.dataset!r}")
        if self.tasks_per_core < 1:
            raise ValueError(f"tasks_per_core must be >= 1, got {self.tasks_per_core}")
        if self.driver_merge_max_rows < 0:
            raise ValueError(f"driver_merge_max_rows must be >= 0, got {self.driver_merge_max_rows}")

    def build_settings(self) -> dict[str, Any]:
        """Settings that decide a dataset's content; every version of a dataset must share them."""
        return {
            "clip": dataclasses.asdict(self.clip),
            "decode": {k: getattr(self.decode, k) for k in ("frames_per_clip", "height_px", "width_px")},
            "augment": {**dataclasses.asdict(self.augment), "splits": list(self.augment.splits)},
            "split": dataclasses.asdict(self.split),
            "quality": dataclasses.asdict(self.quality),
        }


def check_build_settings(latest: dict[str, Any] | None, cfg: CurateConfig) -> None:
    if latest is None:
        return
    before = json.loads(latest["build_config_json"])
    # A setting (or a whole section) the dataset was built before, added since, is taken as agreeing: its first
    # versions knew no other value.
    now = {section: {k: v for k, v in values.items() if k in before[section]}
           for section, values in json.loads(json.dumps(cfg.build_settings())).items() if section in before}
    if before != now:
        diffs = [f"{section}.{k}: {before.get(section, {}).get(k)!r} -> {v!r}"
                 for section, values in now.items() for k, v in values.items()
                 if before.get(section, {}).get(k) != v]
        raise ValueError(f"dataset {cfg.dataset!r} v{latest['version']} was built with other settings "
                         f"({'; '.join(diffs)}). Rerun with its settings, or set dataset=<new name>.")



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
