"""The functions Spark runs on executors, over Arrow batches (``mapInArrow``): each maps the library's per-video
work over the rows of one partition and hands back records in the shapes of ``pipelines.rows``.

They are built on the driver from plain config values (pickled once per task) and import what they need inside,
so the model or decoder setup happens once per worker process, not per row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from pipelines import rows as row_schemas
from pipelines.tables import Staged, spark_uri
from sora_model.dataset.build import DatasetPlan
from sora_model.dataset.split import SplitConfig
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig
from sora_model.video.decode import DecodeConfig
from sora_model.video.probe import ProbeConfig
from sora_model.video.signature import NearDupConfig

if TYPE_CHECKING:
    from sora_model.deploy.build import TaskMap

PartitionFn = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


def run_to_staging(rows: DataFrame, partitions: int, fn: PartitionFn, schema: pa.Schema,
                   uri: str) -> tuple[DataFrame, float]:
    """Map ``fn`` over ``rows`` in ``partitions`` tasks and write the records it hands back to ``uri`` (Parquet),
    so nothing downstream runs the executors' work twice. Returns the staged records and the job's wall seconds."""
    start = time.perf_counter()
    rows.repartition(partitions).mapInArrow(fn, from_arrow_schema(schema)).write.mode("overwrite") \
        .parquet(spark_uri(uri))
    seconds = time.perf_counter() - start
    return rows.sparkSession.read.parquet(spark_uri(uri)), seconds


def stage_rows(rows: DataFrame, uri: str) -> Staged:
    """Write ``rows`` to ``uri`` (Parquet) once: what reads them next (the summary's counts, a MERGE) then reads
    one small file set instead of recomputing their joins and Delta reads each time."""
    rows.write.mode("overwrite").parquet(spark_uri(uri))
    return Staged.of(uri)


def probe_partition(clean_cfg: CleanConfig, near_dup: NearDupConfig | None = None,
                    probe: ProbeConfig | None = None) -> PartitionFn:
    """Listed files -> PROBED rows (hash, probe facts, per-file gate, near-duplicate signature)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from sora_model.video.process import probe_video

        for batch in batches:
            out = []
            for file in batch.to_pylist():
                start = time.perf_counter()
                result = probe_video(file["uri"], clean_cfg, near_dup, probe)
                out.append(row_schemas.probed_record(file, result, time.perf_counter() - start))
            yield pa.RecordBatch.from_pylist(out, schema=row_schemas.PROBED)

    return run


def decode_partition(plan: DatasetPlan, split_cfg: SplitConfig) -> PartitionFn:
    """Accepted videos -> DECODED rows; shards written by this task attempt."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        from sora_model.dataset.build import VideoProcessor
        from sora_model.dataset.split import assign_split

        ctx = TaskContext.get()
        tag = f"{ctx.partitionId():05d}-{ctx.attemptNumber()}" if ctx else "local"
        processor = VideoProcessor(plan, tag)
        for batch in batches:
            for video in batch.to_pylist():
                video["split"] = assign_split(video["video_id"], split_cfg)
                clips, status = processor.process(video)
                of_video = {"split": video["split"], "label": video["label"], "label_name": video["label_name"]}
                out = [{"kind": "clip", **of_video, **c} for c in clips]
                out.append({"kind": "video", **video, **status})
                yield pa.RecordBatch.from_pylist(out, schema=row_schemas.DECODED)
        shards = [{"kind": "shard", "shard_uri": s.uri, "split": s.split, "shard_rows": s.rows,
                   "shard_size_bytes": s.size_bytes} for s in processor.close()]
        if shards:
            yield pa.RecordBatch.from_pylist(shards, schema=row_schemas.DECODED)

    return run


def score_partition(model_uri: str, decode: DecodeConfig, clean: CleanConfig, clip: ClipConfig,
                    batch_size: int, threads: int) -> PartitionFn:
    """Listed files -> SCORED rows: a prediction per clip, or the file's reject."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from sora_model.deploy import scoring

        model = scoring.predictor(model_uri, threads=threads)  # once per worker process
        for batch in batches:
            for f in batch.to_pylist():
                preds, rejected = scoring.score_video(f["uri"], model, clean, clip, decode, batch_size)
                rows = [{"kind": "prediction", **f, **p} for p in preds]
                if rejected is not None:
                    rows.append({"kind": "reject", **row_schemas.reject_record(f, rejected)})
                for r in rows:
                    r["loads_in_process"] = scoring.loads_so_far()
                yield pa.RecordBatch.from_pylist(rows, schema=row_schemas.SCORED)

    return run


def in_tasks(spark: SparkSession, description: str) -> TaskMap:
    """A ``TaskMap`` over Spark: each item in a task of its own (on the executors of a cluster), results in the
    items' order. A task that fails runs again (``spark.task.maxFailures``): what it does must be retry-safe."""

    def run(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        if not items:
            return []
        sc = spark.sparkContext
        sc.setJobDescription(f"{description} ({len(items)} tasks)")
        try:
            return sc.parallelize(items, len(items)).map(fn).collect()
        finally:
            sc.setJobDescription(None)

    return run
