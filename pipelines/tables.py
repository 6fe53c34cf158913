"""The lake's Delta tables (``LakeLayout.table``), read and written by Spark.

Every write is a MERGE on content-derived keys, so a rerun or a retried stage adds nothing.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from sora_model.lake import storage
from sora_model.lake.layout import TABLES as TABLE_NAMES
from sora_model.lake.layout import LakeLayout

logger = logging.getLogger(__name__)

TABLES: dict[str, str] = {
    "videos": """video_id string, uri string, size_bytes long, modified_ms long, container string, codec string,
        width_px int, height_px int, fps double, duration_s double, frame_count long, rotation_deg int,
        signature array<long>, decoded_frame_count long,
        label int, label_name string, split string, decoder string, fallback_reason string, decode_error string,
        clip_count int, clips_filtered int, clips_dropped int, cuts array<int>, run_id string,
        updated_at timestamp""",
    "rejects": """uri string, size_bytes long, modified_ms long, video_id string, stage string, reason string,
        detail string, run_id string, rejected_at timestamp""",
    "clips": """dataset string, dataset_version int, clip_id string, video_id string, clip_index int,
        start_frame long, end_frame long, start_s double, end_s double, label int, label_name string,
        split string, rows int, shard_uri string, sharpness double, detail_ratio double, blank_frac double, motion double,
        letterbox_frac double, filter_reason string, filter_detail string, run_id string""",
    "datasets": """name string, version int, created_at timestamp, run_id string, shard_uris array<string>,
        shard_splits array<string>, rows_per_split map<string,long>, clips_per_split map<string,long>,
        videos_per_split map<string,long>, frames_shape array<int>, classes array<string>, schema_json string,
        build_config_json string, source_versions map<string,long>, config_yaml string""",
    "models": """run_id string, epoch int, step long, variant string, uri string, model_file string, sha256 string,
        size_bytes long, metrics_json string, dataset string, dataset_version int, parent_uri string,
        config_yaml string, created_at timestamp""",
    "predictions": """clip_id string, video_id string, uri string, clip_index int, start_s double, end_s double,
        predicted_label int, predicted_label_name string, probabilities array<double>, model_id string,
        model_uri string, run_id string, scored_at timestamp, alias string, alias_seq int, brightness double,
        motion_energy double, latency_ms double, width_px int, height_px int, codec string""",
    "monitoring": """score_run_id string, model_id string, alias string, alias_seq int, monitored_at timestamp,
        clips long, videos long, class_mix map<string,long>, class_psi double, confidence_p10 double,
        confidence_p50 double, confidence_p90 double, brightness_mean double, brightness_psi double,
        motion_mean double, motion_psi double, resolution_mix map<string,long>, resolution_psi double,
        codec_mix map<string,long>, codec_psi double, latency_ms_p50 double, latency_ms_p95 double,
        labelled_clips long, accuracy double, macro_f1 double, alerts array<string>, config_yaml string""",
    "aliases": """alias string, seq int, model_id string, model_uri string, deployed_id string, deployed_uri string,
        action string, reason string, previous_seq int, set_by string, set_at timestamp""",
    "decisions": """dataset string, dataset_version int, cycle_run_id string, decided_at timestamp, action string,
        reason string, new_clips long, candidate_id string, production_id string, serving_id string,
        promotion_metric string, candidate_new double, production_new double, candidate_old double,
        production_old double, test_clips_new long, test_clips_old long, gain double, regression double,
        scored_videos long, predictions long, alerts array<string>, config_yaml string""",
}

KEYS: dict[str, tuple[str, ...]] = {
    "videos": ("video_id",),
    "rejects": ("uri",),
    "clips": ("dataset", "clip_id"),
    "datasets": ("name", "version"),
    "models": ("run_id", "epoch", "variant"),
    "predictions": ("clip_id", "model_id"),
    "aliases": ("alias", "seq"),
    "decisions": ("dataset", "dataset_version"),
    "monitoring": ("score_run_id",),
}


def spark_uri(uri: str) -> str:
    """URI for Spark/Hadoop: local paths get ``file://`` so a cluster's default FS (HDFS) is not assumed, and
    S3 objects Hadoop's ``s3a://`` (Hadoop has no ``s3://`` of its own)."""
    if storage.is_local(uri):
        return "file://" + storage.normalize(uri)
    scheme, sep, rest = uri.partition("://")
    return "s3a://" + rest if scheme in ("s3", "s3n") else uri


def table_schema(name: str) -> StructType:
    return StructType.fromDDL(" ".join(TABLES[name].split()))


if set(TABLES) != set(TABLE_NAMES) or set(KEYS) != set(TABLE_NAMES):
    raise RuntimeError(f"bug: table schemas {sorted(TABLES)} and keys {sorted(KEYS)} must cover the lake's tables "
                       f"{sorted(TABLE_NAMES)}")


class Tables:
    """The Delta tables of one lake."""

    def __init__(self, spark: SparkSession, lake_uri: str) -> None:
        self.spark = spark
        self.layout = LakeLayout.of(lake_uri)
        self._current: set[str] = set()  # tables known to have every column of their schema

    def table_uri(self, name: str) -> str:
        return spark_uri(self.layout.table(name))

    def exists(self, name: str) -> bool:
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(self.spark, self.table_uri(name))

    def read(self, name: str) -> DataFrame:
        if not self.exists(name):
            return self.spark.createDataFrame([], table_schema(name))
        self._add_new_columns(name)
        return self.spark.read.format("delta").load(self.table_uri(name))

    def _add_new_columns(self, name: str) -> None:
        """A lake written by an earlier release lacks the columns added since: add them (old rows read null)."""
        if name in self._current:
            return
        have = set(self.spark.read.format("delta").load(self.table_uri(name)).columns)
        missing = [f for f in table_schema(name) if f.name not in have]
        if missing:
            logger.warning("table %s: adding columns %s (rows written before read null)", name,
                           ", ".join(f.name for f in missing))
            columns = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in missing)
            self.spark.sql(f"ALTER TABLE delta.`{self.table_uri(name)}` ADD COLUMNS ({columns})")
        self._current.add(name)

    def version(self, name: str) -> int | None:
        """The table's latest committed version (None before its first write)."""
        from sora_model.lake.delta import table_version

        return table_version(self.layout.root, name) if self.exists(name) else None

    def _ensure(self, name: str) -> None:
        if not self.exists(name):
            self.spark.createDataFrame([], table_schema(name)).write.format("delta").mode("ignore") \
                .save(self.table_uri(name))

    def merge(self, name: str, df: DataFrame, update: bool = True) -> None:
        """Upsert ``df`` into table ``name`` on its keys; with ``update=False`` existing rows are kept as they are."""
        from delta.tables import DeltaTable

        self._ensure(name)
        self._add_new_columns(name)
        source = df.select(*[c.name for c in table_schema(name)])
        condition = " AND ".join(f"t.{k} = s.{k}" for k in KEYS[name])
        merge = DeltaTable.forPath(self.spark, self.table_uri(name)).alias("t").merge(source.alias("s"), condition)
        if update:
            merge = merge.whenMatchedUpdateAll()
        merge.whenNotMatchedInsertAll().execute()

    def remove(self, name: str, keys: DataFrame) -> None:
        """Delete the rows of table ``name`` whose key columns match a row of ``keys``."""
        from delta.tables import DeltaTable

        if not self.exists(name):
            return
        cols = keys.columns
        condition = " AND ".join(f"t.{k} = s.{k}" for k in cols)
        DeltaTable.forPath(self.spark, self.table_uri(name)).alias("t") \
            .merge(keys.distinct().alias("s"), condition).whenMatchedDelete().execute()
