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
    done_ids: Any = None  # a pyarrow Array
    """Ids of the videos registered in the dataset before this version (``done_video_ids``), read once."""
    done_videos: DataFrame | None = None
    probed: DataFrame | None = None
    """PROBED rows of every new file: probed now, or gated on facts the ``files`` table holds."""
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


def done_video_ids(lake_uri: str, dataset: str, version: int) -> Any:  # noqa: ANN401 - a pyarrow Array
    """Video ids with clips in a registered version of ``dataset`` (below ``version``, the one being built):
    "done" means registered, so the videos of a run that crashed before registering are redone."""
    clips = delta.read_table(lake_uri, "clips", ["video_id"], where=(pc.field("dataset") == dataset) & (
        pc.field("dataset_version") < version))
    return pc.unique(clips["video_id"]) if clips is not None else pa.array([], pa.string())


def known_files(lake_uri: str, files: list, near_dup: NearDupConfig | None) -> dict[tuple, dict[str, Any]]:
    """The ``files`` rows of ``files`` (listing tuples) whose stored facts this run can use: the same uri, size and
    modification time, and a signature made with ``near_dup``'s settings when it wants one."""
    if not files:
        return {}
    wanted = {tuple(f) for f in files}
    rows = delta.read_rows(lake_uri, "files", where=pc.field("uri").isin(sorted({f[0] for f in files})))
    settings = near_dup.signature_settings if near_dup is not None else None
    return {key: r for r in rows if (key := tuple(r[k] for k in FILE_KEY)) in wanted
            and (settings is None or r["signature_settings"] == settings)}
