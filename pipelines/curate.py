"""Curate: a folder of videos -> Delta tables (videos, rejects, clips, datasets) + Parquet shards.

Plan of one run:
  ingest   list files (driver, names only); drop those the lake already accounts for (same uri, size, mtime)
  probe    executors hash and probe each new file and apply the per-file gate -> staging Parquet (runs once)
  clean    exact duplicates by sha256 (in this run and against the lake); labels joined
  decode   executors clip, decode, augment and write shards per task attempt -> staging Parquet (runs once)
  tables   MERGE rejects, videos, clips; register a new dataset version listing every shard of the dataset

Retry safety: IDs come from content, tables are MERGEd on them, shards of a version nobody registered are
deleted before that version is written again, and files of failed task attempts are removed at the end.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.window import Window

from pipelines.ingest import list_files
from pipelines.lake import Lake, spark_uri, table_schema
from pipelines.session import SparkConfig
from sora_model import config as config_lib
from sora_model import rejects as reasons
from sora_model import storage
from sora_model.augment import AugmentConfig
from sora_model.clean import CleanConfig
from sora_model.clips import ClipConfig
from sora_model.decode import DecodeConfig
from sora_model.labels import class_index, read_labels_csv
from sora_model.schema import describe
from sora_model.shards import ShardConfig
from sora_model.split import SPLITS, SplitConfig
from sora_model.video_tasks import PROBE_FIELDS, DatasetPlan

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".mpg", ".mpeg", ".flv",
                    ".wmv", ".3gp", ".ogv")


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
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS
    """File name endings that count as videos; other files are counted as ignored."""
    tasks_per_core: int = 4
    """Spark partitions per available core for the probe and decode stages (more evens out long videos)."""
    spark: SparkConfig = field(default_factory=SparkConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)

    def __post_init__(self) -> None:
        if not self.dataset or not self.dataset.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"dataset must be letters, digits, '-' or '_', got {self.dataset!r}")
        if self.tasks_per_core < 1:
            raise ValueError(f"tasks_per_core must be >= 1, got {self.tasks_per_core}")
        if not self.extensions:
            raise ValueError("extensions must not be empty")

    def build_settings(self) -> dict[str, Any]:
        """Settings that decide a dataset's content; every version of a dataset must share them."""
        return {
            "clip": dataclasses.asdict(self.clip),
            "decode": {k: getattr(self.decode, k) for k in ("frames_per_clip", "height_px", "width_px")},
            "augment": {**dataclasses.asdict(self.augment), "splits": list(self.augment.splits)},
            "split": dataclasses.asdict(self.split),
        }


@dataclass
class CurateSummary:
    run_id: str
    dataset: str
    dataset_version: int | None
    """Version registered by this run; None when nothing new was found."""
    files_listed: int = 0
    files_ignored: int = 0
    files_already_in_lake: int = 0
    files_new: int = 0
    videos_clipped: int = 0
    files_rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    pyav_fallbacks: int = 0
    cuts_found: int = 0
    """Hard cuts found in this run's videos (shots mode)."""
    clips_new: int = 0
    rows_new_per_split: dict[str, int] = field(default_factory=dict)
    dataset_rows_per_split: dict[str, int] = field(default_factory=dict)
    dataset_shards: int = 0
    stage_s: dict[str, float] = field(default_factory=dict)
    frames_decoded: int = 0
    executor_decode_s: float = 0.0
    """Sum over videos of the time executors spent clipping, decoding and sharding them."""
    decode_job_s: float = 0.0
    """Wall time of the Spark job that decodes and shards (the decode stage minus its bookkeeping)."""

    def check_invariant(self) -> None:
        """Every listed file is accounted for: already in the lake, clipped now, or rejected now."""
        accounted = self.files_already_in_lake + self.videos_clipped + self.files_rejected
        if accounted != self.files_listed:
            raise RuntimeError(f"bug: {self.files_listed} files listed but {accounted} accounted for "
                               f"({self.files_already_in_lake} in lake + {self.videos_clipped} clipped + "
                               f"{self.files_rejected} rejected)")

    def render(self) -> str:
        lines = [f"curate run {self.run_id} -> dataset {self.dataset!r} "
                 + (f"v{self.dataset_version}" if self.dataset_version else "(unchanged)"),
                 f"  videos found        {self.files_listed}  (+{self.files_ignored} non-video files ignored)",
                 f"  already in lake     {self.files_already_in_lake}",
                 f"  new                 {self.files_new}",
                 f"    clipped           {self.videos_clipped}  ({self.pyav_fallbacks} via PyAV fallback)",
                 f"    rejected          {self.files_rejected}"]
        for reason, n in sorted(self.rejects_by_reason.items()):
            lines.append(f"      {reason:<17} {n}")
        lines.append(f"  clips new           {self.clips_new}  ({self.cuts_found} hard cuts found)")
        lines.append("  rows new per split  " + _fmt_splits(self.rows_new_per_split))
        lines.append("  dataset rows        " + _fmt_splits(self.dataset_rows_per_split)
                     + f"  in {self.dataset_shards} shards")
        lines.append("  time per stage      " + "  ".join(f"{k} {v:.1f}s" for k, v in self.stage_s.items()))
        return "\n".join(lines)


def _fmt_splits(counts: dict[str, int]) -> str:
    return "  ".join(f"{s} {counts.get(s, 0)}" for s in SPLITS)


PROBED = pa.schema([
    ("uri", pa.string()), ("size_bytes", pa.int64()), ("modified_ms", pa.int64()), ("video_id", pa.string()),
    ("container", pa.string()), ("codec", pa.string()), ("width_px", pa.int32()), ("height_px", pa.int32()),
    ("fps", pa.float64()), ("duration_s", pa.float64()), ("frame_count", pa.int64()),
    ("reject_stage", pa.string()), ("reject_reason", pa.string()), ("reject_detail", pa.string()),
    ("probe_s", pa.float64()),
])

DECODED = pa.schema([
    ("kind", pa.string()),  # 'clip', 'video' or 'shard'
    ("video_id", pa.string()), ("split", pa.string()),
    ("clip_id", pa.string()), ("clip_index", pa.int32()), ("start_frame", pa.int64()), ("end_frame", pa.int64()),
    ("start_s", pa.float64()), ("end_s", pa.float64()), ("rows", pa.int32()), ("shard_uri", pa.string()),
    ("decoder", pa.string()), ("decoded_frame_count", pa.int64()), ("clip_count", pa.int32()),
    ("clips_dropped", pa.int32()), ("cuts", pa.list_(pa.int32())), ("fallback_reason", pa.string()),
    ("decode_error", pa.string()), ("decode_s", pa.float64()), ("reject_reason", pa.string()),
    ("reject_detail", pa.string()), ("shard_rows", pa.int64()), ("shard_size_bytes", pa.int64()),
])


def _probe_partition(clean_cfg: CleanConfig):  # noqa: ANN202 - mapInArrow function
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from sora_model.video_tasks import probe_one

        for batch in batches:
            rows = [{**f, **probe_one(f["uri"], clean_cfg)} for f in batch.to_pylist()]
            yield pa.RecordBatch.from_pylist(rows, schema=PROBED)

    return run


def _decode_partition(plan: DatasetPlan, split_cfg: SplitConfig):  # noqa: ANN202 - mapInArrow function
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        from sora_model.split import assign_split
        from sora_model.video_tasks import VideoProcessor

        ctx = TaskContext.get()
        tag = f"{ctx.partitionId():05d}-{ctx.attemptNumber()}" if ctx else "local"
        processor = VideoProcessor(plan, tag)
        for batch in batches:
            for video in batch.to_pylist():
                video["split"] = assign_split(video["video_id"], split_cfg)
                clips, status = processor.process(video)
                out = [{"kind": "clip", "split": video["split"], **c} for c in clips]
                out.append({"kind": "video", "split": video["split"], **status})
                yield pa.RecordBatch.from_pylist(out, schema=DECODED)
        shards = [{"kind": "shard", "shard_uri": s.uri, "split": s.split, "shard_rows": s.rows,
                   "shard_size_bytes": s.size_bytes} for s in processor.close()]
        if shards:
            yield pa.RecordBatch.from_pylist(shards, schema=DECODED)

    return run


class _Stages:
    """Wall time per stage, for the summary."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._name: str | None = None
        self._start = 0.0

    def start(self, name: str) -> None:
        self.stop()
        logger.info("stage %s ...", name)
        self._name, self._start = name, time.perf_counter()

    def stop(self) -> None:
        if self._name:
            self.times[self._name] = round(time.perf_counter() - self._start, 2)
            logger.info("stage %s done in %.1fs", self._name, self.times[self._name])
            self._name = None


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def _latest_dataset(lake: Lake, name: str) -> dict[str, Any] | None:
    rows = lake.read("datasets").where(F.col("name") == name).orderBy(F.col("version").desc()).limit(1).collect()
    return rows[0].asDict(recursive=True) if rows else None


def _check_build_settings(latest: dict[str, Any] | None, cfg: CurateConfig) -> None:
    if latest is None:
        return
    before = json.loads(latest["build_config_json"])
    now = json.loads(json.dumps(cfg.build_settings()))
    if before != now:
        diffs = [f"{section}.{k}: {before.get(section, {}).get(k)!r} -> {v!r}"
                 for section, values in now.items() for k, v in values.items()
                 if before.get(section, {}).get(k) != v]
        raise ValueError(f"dataset {cfg.dataset!r} v{latest['version']} was built with other settings "
                         f"({'; '.join(diffs)}). Rerun with its settings, or set dataset=<new name>.")


def _labels(cfg: CurateConfig) -> dict[str, str]:
    uri = cfg.labels_csv or storage.join(storage.normalize(cfg.input_uri), "labels.csv")
    if cfg.labels_csv is None and not storage.exists(uri):
        logger.warning("no labels CSV at %s: clips get label -1", uri)
        return {}
    if not storage.exists(uri):
        raise FileNotFoundError(f"labels_csv {uri} does not exist")
    return read_labels_csv(uri, cfg.input_uri)


KEY = ["uri", "size_bytes", "modified_ms"]
"""A file is the same file when its uri, size and modification time are."""
FILE_SCHEMA = "uri string, size_bytes long, modified_ms long"


def run_curate(spark: SparkSession, cfg: CurateConfig, run_id: str | None = None) -> CurateSummary:
    """Run every stage once; returns the summary (also saved as <lake>/runs/<run_id>/summary.json)."""
    return _CurateRun(spark, cfg, run_id or new_run_id()).run()


@dataclass
class _Cleaned:
    accepted: DataFrame
    """Videos to decode: video_id, uri, probe fields, label, label_name."""
    rejects: DataFrame
    """Probe, gate and duplicate rejects in the rejects table's shape (without run columns)."""
    touched: DataFrame
    """Files already in the dataset whose mtime changed: KEY + video_id."""
    classes: list[str]


class _CurateRun:
    def __init__(self, spark: SparkSession, cfg: CurateConfig, run_id: str) -> None:
        self.spark, self.cfg, self.run_id = spark, cfg, run_id
        self.lake = Lake(spark, cfg.lake_uri)
        self.stages = _Stages()
        self.summary = CurateSummary(run_id=run_id, dataset=cfg.dataset, dataset_version=None)
        self.staging = self.lake.uri("_staging", run_id)
        self.cores = spark.sparkContext.defaultParallelism
        self.latest = _latest_dataset(self.lake, cfg.dataset)
        self.version = (self.latest["version"] if self.latest else 0) + 1
        self.out_uri = self.lake.uri("datasets", cfg.dataset, f"v{self.version}")
        self._cached: list[DataFrame] = []

    def run(self) -> CurateSummary:
        storage.write_text(self.lake.uri("runs", self.run_id, "config.yaml"), config_lib.to_yaml(self.cfg))
        _check_build_settings(self.latest, self.cfg)
        self.stages.start("ingest")
        new_files, done_videos = self._ingest()
        if new_files:
            self.stages.start("probe")
            probed = self._probe(new_files)
            self.stages.start("clean")
            cleaned = self._clean(probed, done_videos)
            self.stages.start("decode")
            decoded = self._decode(cleaned)
            self.stages.start("tables")
            shards = self._write_tables(probed, cleaned, decoded)
            self.stages.start("register")
            if shards:
                _register(self.lake, self.cfg, self.run_id, self.version, self.latest, cleaned.classes, shards)
                self.summary.dataset_version = self.version
                self.latest = _latest_dataset(self.lake, self.cfg.dataset)
            _remove_orphans(self.out_uri, {s["shard_uri"] for s in shards})
            storage.delete_dir(self.staging)
        for df in self._cached:
            df.unpersist()
        self.stages.stop()
        s = self.summary
        s.stage_s = self.stages.times
        s.dataset_rows_per_split = dict(self.latest["rows_per_split"]) if self.latest else {}
        s.dataset_shards = len(self.latest["shard_uris"]) if self.latest else 0
        s.check_invariant()
        _save_summary(self.lake, s)
        return s

    def _cache(self, df: DataFrame) -> DataFrame:
        self._cached.append(df.cache())
        return df

    def _ingest(self) -> tuple[list, DataFrame]:
        """List the corpus; keep the files the lake does not account for yet."""
        lake, cfg = self.lake, self.cfg
        listing = list_files(self.spark, cfg.input_uri, cfg.extensions)
        self.summary.files_listed, self.summary.files_ignored = len(listing.files), listing.ignored
        # "Done" means in a registered version: videos of a run that crashed before registering are redone.
        in_dataset = lake.read("clips").where(
            (F.col("dataset") == cfg.dataset) & (F.col("dataset_version") < self.version)).select("video_id")
        done_videos = lake.read("videos").join(in_dataset.distinct(), "video_id")
        done = lake.read("rejects").select(*KEY).unionByName(done_videos.select(*KEY)).distinct()
        files = self.spark.createDataFrame(listing.files, FILE_SCHEMA)
        new_files = files.join(done, KEY, "left_anti").collect()
        self.summary.files_new = len(new_files)
        self.summary.files_already_in_lake = self.summary.files_listed - len(new_files)
        return new_files, done_videos

    def _probe(self, new_files: list) -> DataFrame:
        """sha256 + container facts + per-file gate on executors, materialized once to staging."""
        parts = max(1, min(len(new_files), self.cores * self.cfg.tasks_per_core))
        probed_uri = spark_uri(storage.join(self.staging, "probed"))
        self.spark.createDataFrame(new_files, FILE_SCHEMA).repartition(parts) \
            .mapInArrow(_probe_partition(self.cfg.clean), from_arrow_schema(PROBED)) \
            .write.mode("overwrite").parquet(probed_uri)
        return self.spark.read.parquet(probed_uri)

    def _clean(self, probed: DataFrame, done_videos: DataFrame) -> _Cleaned:
        """Exact duplicates (within this run and against the dataset), labels."""
        label_map = _labels(self.cfg)
        classes = class_index(list(self.latest["classes"]) if self.latest else [], set(label_map.values()))
        labels_df = self.spark.createDataFrame(
            [(storage.normalize(u), n, classes.index(n)) for u, n in label_map.items()],
            "uri string, label_name string, label int")
        ok = probed.where(F.col("reject_reason").isNull()).join(F.broadcast(labels_df), "uri", "left")
        # Of identical files keep a labelled one if any, then the smallest URI: the same choice on every rerun.
        keep_order = Window.partitionBy("video_id").orderBy(F.col("label").isNull(), "uri")
        ok = ok.withColumn("kept_uri", F.first("uri").over(keep_order))
        ok = ok.join(done_videos.select("video_id", F.col("uri").alias("lake_uri")), "video_id", "left")
        dup_of = F.coalesce(F.col("lake_uri"), F.col("kept_uri"))
        dups = ok.where(dup_of != F.col("uri")).select(
            *KEY, "video_id", F.lit("clean").alias("stage"), F.lit(reasons.DUPLICATE_OF).alias("reason"),
            F.concat(F.lit("same sha256 as "), dup_of).alias("detail"))
        # Same content at the same uri, only touched: already in the dataset; refresh its row, decode nothing.
        touched = self._cache(ok.where(F.col("lake_uri") == F.col("uri")).select(*KEY, "video_id"))
        accepted = ok.where(F.col("lake_uri").isNull() & (F.col("kept_uri") == F.col("uri"))).select(
            "video_id", "uri", *PROBE_FIELDS, F.coalesce("label", F.lit(-1)).alias("label"),
            F.coalesce("label_name", F.lit("")).alias("label_name"))
        probe_rejects = probed.where(F.col("reject_reason").isNotNull()).select(
            *KEY, "video_id", F.col("reject_stage").alias("stage"), F.col("reject_reason").alias("reason"),
            F.col("reject_detail").alias("detail"))
        return _Cleaned(accepted=self._cache(accepted), rejects=probe_rejects.unionByName(dups),
                        touched=touched, classes=classes)

    def _decode(self, cleaned: _Cleaned) -> DataFrame:
        """Clip, decode, augment and shard on executors; results (no frames) materialized once to staging."""
        cfg = self.cfg
        storage.delete_dir(self.out_uri)  # shards of an unregistered (crashed) attempt at this version
        plan = DatasetPlan(name=cfg.dataset, version=self.version, out_uri=self.out_uri,
                           classes=tuple(cleaned.classes), clip=cfg.clip, decode=cfg.decode, augment=cfg.augment,
                           shard=cfg.shard)
        n_accepted = cleaned.accepted.count()
        if not n_accepted:
            return self.spark.createDataFrame([], from_arrow_schema(DECODED))
        parts = max(1, min(n_accepted, self.cores * cfg.tasks_per_core))
        logger.info("decoding %d videos in %d tasks", n_accepted, parts)
        decoded_uri = spark_uri(storage.join(self.staging, "decoded"))
        job_start = time.perf_counter()
        cleaned.accepted.repartition(parts) \
            .mapInArrow(_decode_partition(plan, cfg.split), from_arrow_schema(DECODED)) \
            .write.mode("overwrite").parquet(decoded_uri)
        self.summary.decode_job_s = time.perf_counter() - job_start
        return self._cache(self.spark.read.parquet(decoded_uri))

    def _write_tables(self, probed: DataFrame, cleaned: _Cleaned, decoded: DataFrame) -> list:
        """MERGE rejects, videos and clips; returns this run's shard files (uri, split, rows)."""
        lake, s, now = self.lake, self.summary, F.current_timestamp()
        status = decoded.where(F.col("kind") == "video")
        files_meta = probed.select(*KEY)
        decode_rejects = status.where(F.col("reject_reason").isNotNull()).join(
            cleaned.accepted.select("video_id", "uri"), "video_id").join(files_meta, "uri").select(
            *KEY, "video_id", F.lit("decode").alias("stage"), F.col("reject_reason").alias("reason"),
            F.col("reject_detail").alias("detail"))
        rejects = self._cache(cleaned.rejects.unionByName(decode_rejects)
                              .withColumn("run_id", F.lit(self.run_id)).withColumn("rejected_at", now))
        videos = self._cache(status.where(F.col("reject_reason").isNull()).select(
            "video_id", "split", "decoder", "decoded_frame_count", "clip_count", "clips_dropped", "cuts",
            "fallback_reason", "decode_error", "decode_s").join(cleaned.accepted, "video_id")
            .join(files_meta, "uri").withColumn("run_id", F.lit(self.run_id)).withColumn("updated_at", now))
        clip_rows = self._cache(decoded.where(F.col("kind") == "clip").join(
            cleaned.accepted.select("video_id", "label", "label_name"), "video_id").select(
            F.lit(self.cfg.dataset).alias("dataset"), F.lit(self.version).alias("dataset_version"), "clip_id",
            "video_id", "clip_index", "start_frame", "end_frame", "start_s", "end_s", "label", "label_name",
            "split", "rows", "shard_uri", F.lit(self.run_id).alias("run_id")))
        shards = decoded.where(F.col("kind") == "shard").select("shard_uri", "split", "shard_rows").collect()

        s.videos_clipped = videos.count()
        reject_counts = {r["reason"]: int(r["n"]) for r in rejects.groupBy("reason").agg(F.count("*").alias("n"))
                         .collect()}
        s.rejects_by_reason, s.files_rejected = reject_counts, sum(reject_counts.values())
        n_touched = cleaned.touched.count()
        s.files_already_in_lake += n_touched
        stats = videos.agg(F.count(F.when(F.col("decoder") == "pyav", 1)).alias("pyav"),
                           F.sum("decoded_frame_count").alias("frames"), F.sum("decode_s").alias("secs"),
                           F.sum(F.size("cuts")).alias("cuts")).first()
        s.cuts_found = int(stats["cuts"] or 0)
        s.pyav_fallbacks, s.frames_decoded = int(stats["pyav"] or 0), int(stats["frames"] or 0)
        s.executor_decode_s = float(stats["secs"] or 0.0)
        s.clips_new = clip_rows.count()
        s.rows_new_per_split = {r["split"]: int(r["n"]) for r in clip_rows.groupBy("split")
                                .agg(F.sum("rows").alias("n")).collect()}

        if s.files_rejected:
            lake.merge("rejects", rejects)
        if s.videos_clipped:
            # A file that was rejected once and is now good (replaced in place) must not stay in rejects.
            lake.remove("rejects", videos.select("uri"))
            lake.merge("videos", videos)
        if n_touched:
            refreshed = lake.read("videos").drop(*KEY).join(cleaned.touched, "video_id")
            lake.merge("videos", refreshed.withColumn("run_id", F.lit(self.run_id)).withColumn("updated_at", now))
        if s.clips_new:
            lake.merge("clips", clip_rows)
        return shards


def _register(lake: Lake, cfg: CurateConfig, run_id: str, version: int, latest: dict[str, Any] | None,
              classes: list[str], shards: list) -> None:
    """Add dataset version ``version``: the previous version's shards plus this run's."""
    prev_uris = list(latest["shard_uris"]) if latest else []
    prev_splits = list(latest["shard_splits"]) if latest else []
    uris = prev_uris + [s["shard_uri"] for s in shards]
    splits = prev_splits + [s["split"] for s in shards]
    rows = dict(latest["rows_per_split"]) if latest else {}
    for s in shards:
        rows[s["split"]] = rows.get(s["split"], 0) + int(s["shard_rows"])
    spark = lake.spark
    all_clips = lake.read("clips").where((F.col("dataset") == cfg.dataset) & (F.col("dataset_version") <= version))
    per_split = {r["split"]: (int(r["clips"]), int(r["videos"])) for r in all_clips.groupBy("split").agg(
        F.count("*").alias("clips"), F.countDistinct("video_id").alias("videos")).collect()}
    shape = [cfg.decode.frames_per_clip, cfg.decode.height_px, cfg.decode.width_px, 3]
    sources = {name: lake.version(name) for name in ("videos", "rejects", "clips")}
    row = {
        "name": cfg.dataset, "version": version, "created_at": datetime.now(timezone.utc), "run_id": run_id,
        "shard_uris": uris, "shard_splits": splits, "rows_per_split": {s: rows.get(s, 0) for s in SPLITS},
        "clips_per_split": {s: per_split.get(s, (0, 0))[0] for s in SPLITS},
        "videos_per_split": {s: per_split.get(s, (0, 0))[1] for s in SPLITS},
        "frames_shape": shape, "classes": classes,
        "schema_json": json.dumps(describe(shape, classes, cfg.dataset, version), sort_keys=True),
        "build_config_json": json.dumps(cfg.build_settings(), sort_keys=True),
        "source_versions": {k: int(v) for k, v in sources.items() if v is not None},
        "config_yaml": config_lib.to_yaml(cfg),
    }
    lake.merge("datasets", spark.createDataFrame([row], table_schema("datasets")), update=False)


def _remove_orphans(out_uri: str, registered: set[str]) -> None:
    """Delete shard files written by task attempts that did not commit (retries, speculation)."""
    import pyarrow.fs as pafs

    if not storage.exists(out_uri):
        return
    fs, path = storage.filesystem(out_uri)
    keep = {storage.filesystem(uri)[1] for uri in registered}
    for info in fs.get_file_info(pafs.FileSelector(path, recursive=True)):
        if info.type == pafs.FileType.File and info.path not in keep:
            logger.info("removing orphan shard %s", info.path)
            fs.delete_file(info.path)


def _save_summary(lake: Lake, summary: CurateSummary) -> None:
    storage.write_text(lake.uri("runs", summary.run_id, "summary.json"),
                       json.dumps(dataclasses.asdict(summary), indent=1, sort_keys=True))
