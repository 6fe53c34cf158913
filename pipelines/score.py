"""Batch scoring on Spark: new videos -> the per-video path curation uses (probe, clip, decode) -> a model
variant -> the ``predictions`` Delta table (MERGE on clip_id + model_id); bad files go to ``rejects`` as in
curation."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines import executors
from pipelines import rows as row_schemas
from pipelines.ingest import FILE_SCHEMA, ListingConfig, list_corpus
from pipelines.session import SparkConfig, size_shuffles
from pipelines.tables import Tables
from sora_model.deploy.resolve import ResolvedModel, resolve_model
from sora_model.lake import storage
from sora_model.lake.ids import new_run_id
from sora_model.lake.lock import LockConfig, lake_lock
from sora_model.lake.object_store import ObjectStoreConfig
from sora_model.lake.tables import SCORING_REJECTS
from sora_model.video import decode as decode_lib
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig
from sora_model.video.decode import DecodeConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ScoreConfig:
    model: str = "production"
    """Model to score with: an alias (production: the variant deployed from the model in use; see
    jobs/alias.py), a models-table id <run_id>/<epoch>/<variant> (e.g. 20261124T052354Z-497994/20/int8-static),
    or a variant directory URI."""
    input_uri: str = ""
    """Folder or object-store prefix of new videos (listed recursively)."""
    lake_uri: str = "lake"
    """Lake receiving the predictions and rejects tables (and holding the models table for ids)."""
    listing: ListingConfig = field(default_factory=ListingConfig)
    """What under the input is not scored (ignore list) and how long listing may take."""
    batch_size: int = 32
    """Clips per model call."""
    threads_per_task: int = 1
    """Intra-op threads of the model in each Spark task (one task per core)."""
    tasks_per_core: int = 2
    """Spark partitions per available core."""
    spark: SparkConfig = field(default_factory=SparkConfig)
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    """Decoder settings; frames per clip and frame size always come from the model."""

    lock: LockConfig = field(default_factory=LockConfig)
    """One writer per lake: whether a run waits for another run writing the same lake, or stops at once."""

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.threads_per_task < 1 or self.tasks_per_core < 1:
            raise ValueError("batch_size, threads_per_task and tasks_per_core must be >= 1")


@dataclass
class ScoreSummary:
    run_id: str
    model_id: str
    alias: str | None = None
    """'<alias> #<entry>' when the model was named by an alias."""
    files: int = 0
    scored_videos: int = 0
    rejected: int = 0
    predictions: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    max_model_loads_per_process: int = 0

    def render(self) -> str:
        via = f" ({self.alias})" if self.alias else ""
        lines = [f"score run {self.run_id} with {self.model_id}{via}",
                 f"  videos found        {self.files}",
                 f"    scored            {self.scored_videos}",
                 f"    rejected          {self.rejected}"]
        lines += [f"      {k:<16}  {v}" for k, v in sorted(self.reasons.items())]
        lines.append(f"  predictions         {self.predictions}  (clips; MERGEd on clip_id + model_id)")
        return "\n".join(lines)


def run_score(spark: SparkSession, cfg: ScoreConfig, only: set[str] | None = None) -> ScoreSummary:
    """Score the videos under ``cfg.input_uri`` (just those whose URI is in ``only``, when given)."""
    decode_lib.require(cfg.decode.backend)  # here, before any work, rather than in every task
    run_id = new_run_id()
    with lake_lock(cfg.lake_uri, "score", run_id, cfg.lock):
        return _run_score(spark, cfg, only, run_id)


def _run_score(spark: SparkSession, cfg: ScoreConfig, only: set[str] | None, run_id: str) -> ScoreSummary:
    tables = Tables(spark, cfg.lake_uri)
    resolved = resolve_model(cfg.lake_uri, cfg.model)
    files = list_corpus(cfg.input_uri, cfg.listing).files
    if only is not None:
        files = [f for f in files if f[0] in only]
    return score_files(spark, tables, cfg, resolved, files, run_id, f"score-{run_id}")


def score_files(spark: SparkSession, tables: Tables, cfg: ScoreConfig, resolved: ResolvedModel,  # noqa: PLR0913
                files: list[tuple[str, int, int]], run_id: str, staging_name: str) -> ScoreSummary:
    """Score ``files`` ((uri, size_bytes, modified_ms) each) with ``resolved``: a prediction row per clip MERGEd
    on clip_id + model_id (rows under ``run_id``), a reject row per bad file; the caller holds the lake lock.
    Batch scoring calls it once per run, streaming once per micro-batch."""
    model_uri, card, alias = resolved.uri, resolved.card, resolved.alias
    # Decided on the driver, so a model executors could not use fails here with its reason.
    decode = cfg.decode.with_frames_shape(card.frames_shape)
    summary = ScoreSummary(run_id=run_id, model_id=card.model_id,
                           alias=f"{alias.alias} #{alias.seq}" if alias else None)
    summary.files = len(files)
    if not files:
        return summary
    cores = spark.sparkContext.defaultParallelism
    parts = max(1, min(len(files), cores * cfg.tasks_per_core))
    size_shuffles(spark, parts)
    staging = tables.layout.staging(staging_name)
    fn = executors.score_partition(model_uri, decode, cfg.clean, cfg.clip, cfg.batch_size, cfg.threads_per_task)
    scored, _ = executors.run_to_staging(spark.createDataFrame(files, FILE_SCHEMA), parts, fn,
                                         row_schemas.SCORED, storage.join(staging, "scored"))
    scored = scored.cache()
    now = F.lit(datetime.now().astimezone()).cast("timestamp")
    preds = scored.where(F.col("kind") == "prediction").select(
        "clip_id", "video_id", "uri", "clip_index", "start_s", "end_s", "predicted_label", "predicted_label_name",
        "probabilities", "brightness", "motion_energy", "latency_ms", "width_px", "height_px", "codec",
        F.lit(card.model_id).alias("model_id"), F.lit(model_uri).alias("model_uri"),
        F.lit(run_id).alias("run_id"), now.alias("scored_at"),
        F.lit(alias.alias if alias else None).cast("string").alias("alias"),
        F.lit(alias.seq if alias else None).cast("int").alias("alias_seq"))
    rejects = row_schemas.as_rejects(scored.where(F.col("kind") == "reject")).select(
        F.lit(SCORING_REJECTS).alias("dataset"), "*", F.lit(run_id).alias("run_id"), now.alias("rejected_at"))
    # Staged once, then merged in the driver when small (``Tables.merge_staged``).
    tables.merge_staged("predictions", executors.stage_rows(preds, storage.join(staging, "predictions")),
                        update=False)
    rejects = executors.stage_rows(rejects, storage.join(staging, "rejects"))
    if rejects.rows:
        tables.merge_staged("rejects", rejects, update=False)
    stats = scored.groupBy("kind").agg(F.countDistinct("uri").alias("files"), F.count("*").alias("rows"),
                                       F.max("loads_in_process").alias("loads")).collect()
    for r in stats:
        if r["kind"] == "prediction":
            summary.scored_videos, summary.predictions = r["files"], r["rows"]
        else:
            summary.rejected = r["files"]
        summary.max_model_loads_per_process = max(summary.max_model_loads_per_process, r["loads"] or 0)
    summary.reasons = dict(Counter(rejects.arrow(["reason"])["reason"].to_pylist()))
    scored.unpersist()
    storage.delete_dir(staging)
    return summary
