"""Arrow schemas of the records executors hand back to the driver (staged as Parquet before any table write),
and the one way their ``reject_*`` columns become rows of the rejects table."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.ingest import FILE_KEY
from sora_model.video.process import ProbedVideo
from sora_model.video.rejects import NOT_REJECTED, Rejected

_FILE = [("uri", pa.string()), ("size_bytes", pa.int64()), ("modified_ms", pa.int64())]
_REJECT = [("reject_stage", pa.string()), ("reject_reason", pa.string()), ("reject_detail", pa.string())]
REJECT_COLUMNS: tuple[str, ...] = tuple(name for name, _ in _REJECT)

_PROBE = [("container", pa.string()), ("codec", pa.string()), ("width_px", pa.int32()), ("height_px", pa.int32()),
          ("fps", pa.float64()), ("duration_s", pa.float64()), ("frame_count", pa.int64()),
          ("rotation_deg", pa.int32())]

PROBED = pa.schema([
    *_FILE, ("video_id", pa.string()), *_PROBE,
    ("signature", pa.list_(pa.int64())), *_REJECT, ("probe_s", pa.float64()),
])
"""One row per new file: probe facts, or why the file was rejected at ingest, probe or the per-file gate."""

DECODED = pa.schema([
    ("kind", pa.string()),  # 'clip', 'video' or 'shard'
    ("video_id", pa.string()), ("split", pa.string()), ("label", pa.int32()), ("label_name", pa.string()),
    *_FILE, *_PROBE, ("signature", pa.list_(pa.int64())),  # video rows: the accepted video's own columns
    ("clip_id", pa.string()), ("clip_index", pa.int32()), ("start_frame", pa.int64()), ("end_frame", pa.int64()),
    ("start_s", pa.float64()), ("end_s", pa.float64()), ("rows", pa.int32()), ("shard_uri", pa.string()),
    ("sharpness", pa.float64()), ("detail_ratio", pa.float64()), ("blank_frac", pa.float64()), ("motion", pa.float64()),
    ("letterbox_frac", pa.float64()), ("filter_reason", pa.string()), ("filter_detail", pa.string()),
    ("decoder", pa.string()), ("decoded_frame_count", pa.int64()), ("clip_count", pa.int32()),
    ("clips_filtered", pa.int32()),
    ("clips_dropped", pa.int32()), ("cuts", pa.list_(pa.int32())), ("fallback_reason", pa.string()),
    ("decode_error", pa.string()), ("decode_s", pa.float64()), *_REJECT,
    ("shard_rows", pa.int64()), ("shard_size_bytes", pa.int64()),
])
"""Rows of the decode stage: one per clip (with its video's label), one per video (the accepted video's columns
and how decoding went), one per shard file a task committed: every column the tables need, so the driver
shapes table rows from them without a join (``table_rows``)."""

SCORED = pa.schema([
    ("kind", pa.string()),  # 'prediction' or 'reject'
    *_FILE, ("clip_id", pa.string()), ("video_id", pa.string()), ("clip_index", pa.int32()),
    ("start_s", pa.float64()), ("end_s", pa.float64()), ("predicted_label", pa.int32()),
    ("predicted_label_name", pa.string()), ("probabilities", pa.list_(pa.float64())),
    ("brightness", pa.float64()), ("motion_energy", pa.float64()), ("latency_ms", pa.float64()),
    ("width_px", pa.int32()), ("height_px", pa.int32()), ("codec", pa.string()), *_REJECT,
    ("loads_in_process", pa.int32()),
])
"""Rows of a scoring run: one per clip prediction, one per rejected file."""


def probed_record(file: dict[str, Any], result: ProbedVideo | Rejected, probe_s: float) -> dict[str, Any]:
    """A PROBED row for a listed file (uri, size_bytes, modified_ms) and what probing it gave."""
    if isinstance(result, Rejected):
        return {**file, "video_id": result.video_id, **result.columns(), "probe_s": probe_s}
    return {**file, **result.columns(), **NOT_REJECTED, "probe_s": probe_s}


def reject_record(file: dict[str, Any], rejected: Rejected) -> dict[str, Any]:
    """A staged row for a rejected file: its listing columns, content id and ``reject_*`` columns."""
    return {**file, "video_id": rejected.video_id, **rejected.columns()}


def as_rejects(rows: DataFrame) -> DataFrame:
    """The rejected rows of ``rows`` (which carry the file key, video_id and ``reject_*`` columns) in the rejects
    table's shape, without the run columns."""
    return rows.where(F.col("reject_reason").isNotNull()).select(
        *FILE_KEY, "video_id", F.col("reject_stage").alias("stage"), F.col("reject_reason").alias("reason"),
        F.col("reject_detail").alias("detail"))


def table_rows(decoded: pa.Table, table: str, run: dict[str, Any]) -> pa.Table:
    """The rows of ``table`` (videos, clips, or rejects: the videos no clip decoded from) in DECODED records,
    with the run's columns added (``with_run_columns``). Pure Arrow: the driver runs it on a small increment,
    executors on a large one."""
    import pyarrow.compute as pc

    is_video = pc.equal(decoded["kind"], "video")
    rejected = pc.is_valid(decoded["reject_reason"])
    if table == "videos":
        rows = decoded.filter(pc.and_(is_video, pc.invert(rejected)))
    elif table == "clips":
        rows = decoded.filter(pc.equal(decoded["kind"], "clip"))
    elif table == "rejects":
        rows = decoded.filter(pc.and_(is_video, rejected)).rename_columns(
            {"reject_stage": "stage", "reject_reason": "reason", "reject_detail": "detail"})
    else:
        raise RuntimeError(f"bug: decode records hold no rows of table {table!r}")
    return with_run_columns(rows, table, run)


RUN_COLUMNS: dict[str, dict[str, str]] = {
    "files": {"run_id": "run_id", "probed_at": "now", "signature_settings": "signature_settings"},
    "videos": {"dataset": "dataset", "run_id": "run_id", "updated_at": "now"},
    "rejects": {"dataset": "dataset", "run_id": "run_id", "rejected_at": "now"},
    "clips": {"dataset": "dataset", "dataset_version": "dataset_version", "run_id": "run_id"},
}
"""Per table, its columns that say which run wrote a row, and the key of ``run`` that holds the value."""


def with_run_columns(rows: pa.Table, table: str, run: dict[str, Any]) -> pa.Table:
    """``rows`` with ``table``'s run columns set from ``run`` (run_id, now, dataset, dataset_version), in the
    table's column order and types."""
    from sora_model.lake.tables import arrow_schema

    schema = arrow_schema(table)
    for name, key in RUN_COLUMNS[table].items():
        column = pa.array([run[key]] * rows.num_rows, schema.field(name).type)
        rows = rows.set_column(rows.column_names.index(name), name, column) if name in rows.column_names \
            else rows.append_column(name, column)
    missing = [n for n in schema.names if n not in rows.column_names]
    if missing:
        raise RuntimeError(f"bug: rows for table {table!r} lack columns {missing}")
    return rows.select(schema.names).cast(schema)
