"""Find a dataset's shards through the lake's ``datasets`` Delta table, read with delta-rs (no JVM needed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sora_model.lake.delta import read_rows, table_version
from sora_model.lake.layout import LakeLayout


@dataclass(frozen=True)
class DatasetVersion:
    name: str
    version: int
    shards: dict[str, list[str]]
    """Shard URIs per split."""
    rows_per_split: dict[str, int]
    frames_shape: list[int]
    classes: list[str]
    schema: dict[str, Any]


def dataset_rows(lake_uri: str, name: str) -> list[dict[str, Any]]:
    """The datasets-table rows of dataset ``name``, one per version (maps as dicts); [] when there are none."""
    import pyarrow.compute as pc

    return read_rows(lake_uri, "datasets", where=pc.field("name") == name)


def latest_row(lake_uri: str, name: str) -> dict[str, Any] | None:
    """The datasets-table row of ``name``'s newest version, None before its first."""
    rows = dataset_rows(lake_uri, name)
    return max(rows, key=lambda r: r["version"]) if rows else None


def load_dataset(lake_uri: str, name: str, version: int | None = None) -> DatasetVersion:
    """The given (default: newest) version of dataset ``name``; ValueError naming what is missing."""
    uri = LakeLayout.of(lake_uri).table("datasets")
    if table_version(lake_uri, "datasets") is None:
        raise ValueError(f"no datasets table at {uri}: run the curate job first")
    rows = dataset_rows(lake_uri, name)
    if not rows:
        names = sorted({r["name"] for r in read_rows(lake_uri, "datasets", ["name"])})
        raise ValueError(f"dataset {name!r} is not registered in {uri} (it holds {', '.join(names) or 'none'}): "
                         f"curate it first, or set dataset=<one of those>")
    if version is None:
        row = max(rows, key=lambda r: r["version"])
    else:
        matches = [r for r in rows if r["version"] == version]
        if not matches:
            raise ValueError(f"dataset {name!r} has no version {version}; versions: "
                             f"{sorted(r['version'] for r in rows)}")
        row = matches[0]
    shards: dict[str, list[str]] = {}
    for shard, split in zip(row["shard_uris"], row["shard_splits"]):
        shards.setdefault(split, []).append(shard)
    return DatasetVersion(name=name, version=int(row["version"]), shards=shards,
                          rows_per_split=dict(row["rows_per_split"]), frames_shape=list(row["frames_shape"]),
                          classes=list(row["classes"]), schema=json.loads(row["schema_json"]))
