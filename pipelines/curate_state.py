"""What one curate run knows, filled in by its stages in order (``CurateState``), and what it reads of the lake
before deciding anything: the dataset's newest version, the videos already in it, the files any dataset's run
has probed before. The lake's small tables are read with delta-rs in the driver: no Spark job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession

from pipelines.curate_config import CurateConfig
from pipelines.ingest import FILE_KEY
from pipelines.summary import CurateSummary
from pipelines.tables import Staged, Tables
from sora_model.dataset.catalog import latest_row
from sora_model.lake import delta
from sora_model.lake.layout import LakeLayout
from sora_model.video.signature import NearDupConfig


@dataclass
class Cleaned:
    accepted: DataFrame
    """Videos to decode: video_id, FILE_KEY, probe fields, signature, label, label_name."""
    rejects: Staged
    """Probe, gate and duplicate rejects in the rejects table's shape (without run columns)."""
    touched: Staged
    """Files already in the dataset whose mtime changed: FILE_KEY + video_id."""
    classes: list[str]


@dataclass
class CurateState:
    """Everything one curate run knows; stages read and fill it in order."""

    spark: SparkSession
    cfg: CurateConfig
    run_id: str
    tables: Tables
    layout: LakeLayout
    summary: CurateSummary
    latest: dict[str, Any] | None
    """The dataset's newest registered version (its datasets row), None before the first."""
    version: int
    """The version this run registers if it finds anything new."""
    out_uri: str
    """Where this run's shards go."""
    staging: str
    cores: int
    new_files: list | None = None
    labels_files: list[str] = field(default_factory=list)
    """The labels.csv files the listing of the input passed (each labels the videos of its folder)."""
    rejected_before: set[str] = field(default_factory=set)
    """URIs of new files the rejects table already names (a file replaced in place): if now curated, their
    rejects rows go."""
    undone_ids: Any = None  # a pyarrow Array
    """Ids of the dataset's videos rows that are not done (those of ``unregistered_clips``): a crashed run's."""
    present: dict[str, Any] = field(default_factory=dict)  # table name -> a pyarrow Table of its keys
    """Per table, every key already in it that a row of this run could match, found by the reads the stages
    make anyway (under the lake lock): the tables stage appends the other rows instead of a MERGE's scan of the
    whole table (``Tables.merge_arrow``). A table without an entry is MERGEd."""
    done_videos: DataFrame | None = None
    probed: DataFrame | None = None
    """PROBED rows of every new file: probed now, or gated on facts the ``files`` table holds."""
    probed_ids: list[str] = field(default_factory=list)
    """Content ids of the new files that passed probe and gate (sorted, distinct)."""
    probed_now: Staged | None = None
    """The PROBED rows of the files the executors read in this run (they go to ``files``)."""
    cleaned: Cleaned | None = None
    decoded: Staged | None = None
    """The decode stage's records (``pipelines.rows.DECODED``)."""
    shards: list | None = None
    cached: list[DataFrame] = field(default_factory=list)

    def cache(self, df: DataFrame) -> DataFrame:
        self.cached.append(df.cache())
        return df

    def partitions(self, items: int) -> int:
        return max(1, min(items, self.cores * self.cfg.tasks_per_core))


def latest_dataset(tables: Tables, name: str) -> dict[str, Any] | None:
    """The datasets row of ``name``'s newest version (read by delta-rs: no Spark job), None before the first."""
    return latest_row(tables.layout.root, name)


def unregistered_clips(lake_uri: str, dataset: str, version: int) -> Any:  # noqa: ANN401 - a pyarrow Table
    """Keys and video ids of the dataset's clips rows at ``version`` (the one being built) or later: written by a
    run that crashed before registering. Their videos are not done, and they are the only clips rows a run
    building ``version`` can match (its videos are in no registered version). Only the few newest files of the
    clips table are read."""
    clips = delta.read_table(lake_uri, "clips", ["dataset", "clip_id", "video_id"], where=(
        pc.field("dataset") == dataset) & (pc.field("dataset_version") >= version),
        within={"dataset_version": (version, None)})
    return clips if clips is not None else pa.table({name: pa.array([], pa.string())
                                                     for name in ("dataset", "clip_id", "video_id")})


def done_video_ids(videos: Any, undone: Any) -> Any:  # noqa: ANN401 - pyarrow Arrays
    """Video ids with clips in a registered version of the dataset: "done" means registered, so the videos of a
    run that crashed before registering are redone.

    ``videos`` is the ``video_id`` column of the dataset's videos rows, ``undone`` the video ids of
    ``unregistered_clips``. A videos row is committed after its video's clips (``WriteTables``), so each names a
    video with clips in some version: the done ones are the others (a read of every clip's video id would grow
    with the dataset's clips)."""
    ids = pc.unique(videos) if videos is not None else pa.array([], pa.string())
    return ids.filter(pc.invert(pc.is_in(ids, value_set=undone))) if len(undone) else ids


def known_files(lake_uri: str, files: list, near_dup: NearDupConfig | None) -> tuple[dict[tuple, dict[str, Any]], Any]:
    """The ``files`` rows of ``files`` (listing tuples) whose stored facts this run can use: the same uri, size and
    modification time, and a signature made with ``near_dup``'s settings when it wants one; and the keys of every
    row with such a key, usable or not (a pyarrow Table: what this run's rows of ``files`` can match)."""
    rows: list[dict[str, Any]] = []
    if files:
        uris = sorted({f[0] for f in files})
        # New files mostly land in new folders: the files whose uri statistics miss these are not read.
        rows = delta.read_rows(lake_uri, "files", where=pc.field("uri").isin(uris),
                               within={"uri": (uris[0], uris[-1])})
    wanted = {tuple(f) for f in files}
    settings = near_dup.signature_settings if near_dup is not None else None
    matching = [r for r in rows if tuple(r[k] for k in FILE_KEY) in wanted]
    keys = pa.table({k: pa.array([r[k] for r in matching], pa.string() if k == "uri" else pa.int64())
                     for k in FILE_KEY})
    return {tuple(r[k] for k in FILE_KEY): r for r in matching
            if settings is None or r["signature_settings"] == settings}, keys
