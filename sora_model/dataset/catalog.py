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


def dataset_versions(lake_uri: str, name: str) -> list[int]:
    """The registered versions of dataset ``name``, ascending ([] when there are none). Two columns only: every
    row lists all shards of its version, so the rows of a long-lived dataset add up to millions of URIs."""
    import pyarrow.compute as pc

    return sorted(r["version"] for r in read_rows(lake_uri, "datasets", ["version"], where=pc.field("name") == name))


def dataset_row(lake_uri: str, name: str, version: int) -> dict[str, Any] | None:
    """The datasets-table row of ``name``'s ``version`` (maps as dicts), None when there is none; only the files
    whose statistics may hold that version are read (a version's row is committed on its own)."""
    import pyarrow.compute as pc

    rows = read_rows(lake_uri, "datasets", where=(pc.field("name") == name) & (pc.field("version") == version),
                     within={"version": (version, version)})
    return rows[0] if rows else None


def latest_row(lake_uri: str, name: str) -> dict[str, Any] | None:
    """The datasets-table row of ``name``'s newest version, None before its first."""
    versions = dataset_versions(lake_uri, name)
    return dataset_row(lake_uri, name, versions[-1]) if versions else None


def load_dataset(lake_uri: str, name: str, version: int | None = None) -> DatasetVersion:
    """The given (default: newest) version of dataset ``name``; ValueError naming what is missing."""
    uri = LakeLayout.of(lake_uri).table("datasets")
    if table_version(lake_uri, "datasets") is None:
        raise ValueError(f"no datasets table at {uri}: run the curate job first")
    versions = dataset_versions(lake_uri, name)
    if not versions:
        names = sorted({r["name"] for r in read_rows(lake_uri, "datasets", ["name"])})
        raise ValueError(f"dataset {name!r} is not registered in {uri} (it holds {', '.join(names) or 'none'}): "
                         f"curate it first, or set dataset=<one of those>")
    if version is not None and version not in versions:
        raise ValueError(f"dataset {name!r} has no version {version}; versions: {versions}")
    row = dataset_row(lake_uri, name, versions[-1] if version is None else version)
    if row is None:
        raise RuntimeError(f"bug: dataset {name!r} version {version} listed but its row was not read")
    shards: dict[str, list[str]] = {}
    for shard, split in zip(row["shard_uris"], row["shard_splits"]):
        shards.setdefault(split, []).append(shard)
    return DatasetVersion(name=name, version=int(row["version"]), shards=shards,
                          rows_per_split=dict(row["rows_per_split"]), frames_shape=list(row["frames_shape"]),
                          classes=list(row["classes"]), schema=json.loads(row["schema_json"]))
