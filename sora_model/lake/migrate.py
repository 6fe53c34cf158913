"""Upgrades of lakes written by earlier releases, run once by the first job of this release that opens a table.

Releases before datasets were kept apart keyed ``videos`` on ``video_id`` and ``rejects`` on ``uri`` alone, so two
datasets curated from the same files overwrote each other's rows. ``keep_datasets_apart`` gives every old row
the dataset it belongs to, in one commit per table (a crash leaves the table as it was, and the next job
upgrades it again).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from functools import cache
from typing import Any

from sora_model.lake import delta, object_store, storage
from sora_model.lake.layout import LakeLayout
from sora_model.lake.tables import SCORING_REJECTS, arrow_schema

logger = logging.getLogger(__name__)

UNKNOWN_DATASET = "(unknown)"
"""The dataset of an old row whose run left no record: no dataset claims it, so the file is judged again by the
next run of each dataset over it."""

_SPLIT_APART = ("videos", "rejects")


def keep_datasets_apart(lake_uri: str, name: str) -> int:
    """Give table ``name`` (videos or rejects) of an old lake its ``dataset`` column, filled; returns how many
    rows it wrote (0 when the table is missing or already upgraded).

    A videos row goes to every dataset whose clips come from that video (with that dataset's split, label and
    clip counts, read from its clips: the old row holds the last writer's), else to the dataset of the run that
    wrote it. A rejects row goes to the dataset of the curate run that wrote it (its ``runs/<run_id>/config.yaml``);
    a run without a record is a scoring run (``SCORING_REJECTS``).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import write_deltalake

    if name not in _SPLIT_APART:
        raise RuntimeError(f"bug: table {name!r} was never shared between datasets; only {_SPLIT_APART} were")
    columns = delta.columns(lake_uri, name)
    if columns is None or "dataset" in columns:
        return 0
    old = delta.read_table(lake_uri, name)
    runs = _run_datasets(lake_uri)
    if "run_id" not in old.column_names:  # older still: every row's run is unknown
        old = old.append_column("run_id", pa.nulls(old.num_rows, pa.string()))
    if name == "rejects":
        datasets = [runs(r) or SCORING_REJECTS for r in old["run_id"].to_pylist()]
        new = old.append_column("dataset", pa.array(datasets, pa.string()))
    else:
        new = _videos_by_dataset(lake_uri, old, runs)
    schema = arrow_schema(name)
    for field in schema:  # columns added by releases between (read null)
        if field.name not in new.column_names:
            new = new.append_column(field, pa.nulls(new.num_rows, field.type))
    new = new.select(schema.names).cast(schema)
    uri = LakeLayout.of(lake_uri).table(name)
    write_deltalake(uri, new, mode="overwrite", schema_mode="overwrite",
                    storage_options=object_store.delta_options(uri))
    counts = pc.value_counts(new["dataset"]).to_pylist() if new.num_rows else []
    logger.warning("table %s: upgraded to one row per dataset (%s)", name,
                   ", ".join(f"{c['values']} {c['counts']}" for c in counts) or "empty")
    return new.num_rows


def _run_datasets(lake_uri: str) -> Any:  # noqa: ANN401 - a callable run_id -> dataset | None
    """run_id -> the dataset its curate run record names (None for a run without one)."""
    import yaml

    layout = LakeLayout.of(lake_uri)

    @cache
    def dataset_of(run_id: str | None) -> str | None:
        if not run_id:
            return None
        uri = storage.join(layout.run_record(run_id), "config.yaml")
        if not storage.is_file(uri):
            return None
        return (yaml.safe_load(storage.read_text(uri)) or {}).get("dataset")

    return dataset_of


def _videos_by_dataset(lake_uri: str, old: Any, runs: Any) -> Any:  # noqa: ANN401 - pyarrow Tables
    import pyarrow as pa

    clips = delta.read_table(lake_uri, "clips", ["dataset", "video_id", "split", "label", "label_name",
                                                 "filter_reason", "run_id"])
    per: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # video_id -> dataset -> what its clips say
    for c in clips.to_pylist() if clips is not None else []:
        seen = per[c["video_id"]].setdefault(c["dataset"], {"split": c["split"], "label": c["label"],
                                                            "label_name": c["label_name"], "clip_count": 0,
                                                            "clips_filtered": 0, "run_id": c["run_id"]})
        seen["clips_filtered" if c["filter_reason"] else "clip_count"] += 1
    rows = []
    for row in old.to_pylist():
        datasets = per.get(row["video_id"])
        if not datasets:
            rows.append({**row, "dataset": runs(row["run_id"]) or UNKNOWN_DATASET})
            continue
        for dataset, facts in sorted(datasets.items()):
            rows.append({**row, **facts, "dataset": dataset})
    schema = old.schema.append(pa.field("dataset", pa.string()))
    return pa.Table.from_pylist(rows, schema=schema)
