"""Batch scoring on Spark: new videos -> probe, clip, decode (the curate stages' code) -> a model variant ->
the ``predictions`` Delta table (MERGE on clip_id + model_id); bad files go to ``rejects`` as in curation."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from pipelines.curate import FILE_SCHEMA, VIDEO_EXTENSIONS, new_run_id
from pipelines.ingest import list_files
from pipelines.lake import Lake, table_schema
from pipelines.session import SparkConfig
from sora_model import storage
from sora_model.clean import CleanConfig
from sora_model.clips import ClipConfig
from sora_model.decode import DecodeConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ScoreConfig:
    model: str = ""
    """Variant to score with: its directory URI, or its models-table id <run_id>/<epoch>/<variant>
    (e.g. 20261124T052354Z-497994/20/int8-static)."""
    input_uri: str = ""
    """Folder or object-store prefix of new videos (listed recursively)."""
    lake_uri: str = "lake"
    """Lake receiving the predictions and rejects tables (and holding the models table for ids)."""
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS
    """File name endings that count as videos."""
    batch_size: int = 32
    """Clips per model call."""
    threads_per_task: int = 1
    """Intra-op threads of the model in each Spark task (one task per core)."""
    tasks_per_core: int = 2
    """Spark partitions per available core."""
    spark: SparkConfig = field(default_factory=SparkConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    """Decoder settings; frames per clip and frame size always come from the model."""

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.threads_per_task < 1 or self.tasks_per_core < 1:
            raise ValueError("batch_size, threads_per_task and tasks_per_core must be >= 1")


SCORED = pa.schema([
    ("kind", pa.string()), ("uri", pa.string()), ("size_bytes", pa.int64()), ("modified_ms", pa.int64()),
    ("clip_id", pa.string()), ("video_id", pa.string()), ("clip_index", pa.int32()), ("start_s", pa.float64()),
    ("end_s", pa.float64()), ("predicted_label", pa.int32()), ("predicted_label_name", pa.string()),
    ("probabilities", pa.list_(pa.float64())), ("stage", pa.string()), ("reason", pa.string()),
    ("detail", pa.string()), ("loads_in_process", pa.int32()),
])


def _score_partition(model_uri: str, decode: DecodeConfig, cfg: ScoreConfig):  # noqa: ANN202 - mapInArrow
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from sora_model import scoring

        model = scoring.predictor(model_uri, threads=cfg.threads_per_task)  # once per worker process
        for batch in batches:
            for f in batch.to_pylist():
                preds, reject = scoring.score_video(f["uri"], model, cfg.clean, cfg.clip, decode, cfg.batch_size)
                rows = [{"kind": "prediction", **f, **p} for p in preds]
                if reject is not None:
                    rows.append({"kind": "reject", **f, **reject})
                for r in rows:
                    r["loads_in_process"] = scoring.loads_so_far()
                yield pa.RecordBatch.from_pylist(rows, schema=SCORED)

    return run


def _meta(variant_uri: str) -> dict:
    return json.loads(storage.read_text(storage.join(variant_uri, "meta.json")))


def resolve_model(spark: SparkSession, lake_uri: str, model: str) -> tuple[str, str, dict]:
    """(variant directory URI, model id, its meta.json) for a directory URI or a models-table id
    run_id/epoch/variant."""
    if not model:
        raise ValueError("model is required: a variant directory or a models-table id <run_id>/<epoch>/<variant>")
    if storage.exists(storage.join(model, "meta.json")):
        meta = _meta(model)
        return storage.normalize(model), f"{meta['run_id']}/{meta['epoch']}/{meta.get('variant', 'fp32')}", meta
    parts = model.split("/")
    if len(parts) != 3 or not parts[1].isdigit():
        raise ValueError(f"model {model!r} is neither a variant directory (with meta.json) nor an id "
                         "<run_id>/<epoch>/<variant>")
    run_id, epoch, variant = parts[0], int(parts[1]), parts[2]
    rows = Lake(spark, lake_uri).read("models").where(
        (F.col("run_id") == run_id) & (F.col("epoch") == epoch) & (F.col("variant") == variant)).collect()
    if not rows:
        raise ValueError(f"no row {model!r} in {lake_uri}/tables/models")
    return rows[0]["uri"], model, _meta(rows[0]["uri"])


@dataclass
class ScoreSummary:
    run_id: str
    model_id: str
    files: int = 0
    scored_videos: int = 0
    rejected: int = 0
    predictions: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    max_model_loads_per_process: int = 0

    def render(self) -> str:
        lines = [f"score run {self.run_id} with {self.model_id}",
                 f"  videos found        {self.files}",
                 f"    scored            {self.scored_videos}",
                 f"    rejected          {self.rejected}"]
        lines += [f"      {k:<16}  {v}" for k, v in sorted(self.reasons.items())]
        lines.append(f"  predictions         {self.predictions}  (clips; MERGEd on clip_id + model_id)")
        return "\n".join(lines)


def run_score(spark: SparkSession, cfg: ScoreConfig) -> ScoreSummary:
    from sora_model.scoring import decode_config_for

    lake = Lake(spark, cfg.lake_uri)
    model_uri, model_id, meta = resolve_model(spark, cfg.lake_uri, cfg.model)
    # Decided on the driver, so a model executors could not use fails here with its reason.
    decode = decode_config_for(meta.get("frames_shape"), cfg.decode)
    run_id = new_run_id()
    summary = ScoreSummary(run_id=run_id, model_id=model_id)
    listing = list_files(spark, cfg.input_uri, cfg.extensions)
    summary.files = len(listing.files)
    if not listing.files:
        return summary
    cores = spark.sparkContext.defaultParallelism
    parts = max(1, min(len(listing.files), cores * cfg.tasks_per_core))
    staging = storage.join(lake.root, "_staging", f"score-{run_id}")
    scored_uri = "file://" + storage.normalize(staging) if storage.is_local(staging) else staging
    spark.createDataFrame(listing.files, FILE_SCHEMA).repartition(parts) \
        .mapInArrow(_score_partition(model_uri, decode, cfg), from_arrow_schema(SCORED)) \
        .write.mode("overwrite").parquet(scored_uri)
    scored = spark.read.parquet(scored_uri).cache()
    now = datetime.now().astimezone()
    preds = scored.where(F.col("kind") == "prediction").select(
        "clip_id", "video_id", "uri", "clip_index", "start_s", "end_s", "predicted_label", "predicted_label_name",
        "probabilities", F.lit(model_id).alias("model_id"), F.lit(model_uri).alias("model_uri"),
        F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("scored_at"))
    rejects = scored.where(F.col("kind") == "reject").select(
        "uri", "size_bytes", "modified_ms", "video_id", "stage", "reason", "detail",
        F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("rejected_at"))
    lake.merge("predictions", preds.select(*[c.name for c in table_schema("predictions")]), update=False)
    lake.merge("rejects", rejects, update=False)
    stats = scored.groupBy("kind").agg(F.countDistinct("uri").alias("files"), F.count("*").alias("rows"),
                                       F.max("loads_in_process").alias("loads")).collect()
    for r in stats:
        if r["kind"] == "prediction":
            summary.scored_videos, summary.predictions = r["files"], r["rows"]
        else:
            summary.rejected = r["files"]
        summary.max_model_loads_per_process = max(summary.max_model_loads_per_process, r["loads"] or 0)
    summary.reasons = {r["reason"]: r["n"] for r in
                       rejects.groupBy("reason").agg(F.count("*").alias("n")).collect()}
    scored.unpersist()
    storage.delete_dir(staging)
    return summary
