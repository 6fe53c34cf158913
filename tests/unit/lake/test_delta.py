"""The delta-rs side of the lake's tables: schemas from the DDL, create, MERGE, delete and filtered reads."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sora_model.lake import delta
from sora_model.lake.tables import KEYS, TABLES, arrow_schema

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _reject(uri: str, reason: str = "not_video") -> dict:
    return {"dataset": "d1", "uri": uri, "size_bytes": 3, "modified_ms": 1, "stage": "probe", "reason": reason, "detail": "d",
            "run_id": "r1", "rejected_at": NOW}


def _rows(name: str, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=arrow_schema(name))


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_schema_parses_with_its_keys_among_the_columns(name: str):
    schema = arrow_schema(name)
    ddl_names = [c.split()[0] for c in " ".join(TABLES[name].split()).replace("map<string,long>", "m").split(", ")]
    assert schema.names == ddl_names
    assert set(KEYS[name]) <= set(schema.names)


def test_nested_ddl_types_become_arrow_lists_maps_and_utc_timestamps():
    schema = arrow_schema("datasets")
    assert schema.field("rows_per_split").type == pa.map_(pa.string(), pa.int64())
    assert schema.field("frames_shape").type.value_type == pa.int32()
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")


def test_merge_inserts_updates_and_a_rerun_adds_nothing(tmp_path: Path):
    lake = str(tmp_path)
    delta.create(lake, "rejects", arrow_schema("rejects"))
    delta.create(lake, "rejects", arrow_schema("rejects"))  # a rerun leaves it as it is
    assert delta.table_version(lake, "rejects") == 0
    delta.merge(lake, "rejects", _rows("rejects", [_reject("/a"), _reject("/b")]), KEYS["rejects"])
    again = delta.merge(lake, "rejects", _rows("rejects", [_reject("/a"), _reject("/b")]), KEYS["rejects"])
    assert again["num_target_rows_inserted"] == 0
    delta.merge(lake, "rejects", _rows("rejects", [_reject("/a", "too_short")]), KEYS["rejects"])
    delta.merge(lake, "rejects", _rows("rejects", [_reject("/b", "too_short")]), KEYS["rejects"], update=False)
    got = {r["uri"]: r["reason"] for r in delta.read_rows(lake, "rejects")}
    assert got == {"/a": "too_short", "/b": "not_video"}


def test_delete_matching_removes_only_rows_whose_keys_match(tmp_path: Path):
    lake = str(tmp_path)
    delta.create(lake, "rejects", arrow_schema("rejects"))
    delta.merge(lake, "rejects", _rows("rejects", [_reject("/a"), _reject("/b")]), KEYS["rejects"])
    delta.delete_matching(lake, "rejects", pa.table({"uri": ["/b", "/never"]}))
    assert [r["uri"] for r in delta.read_rows(lake, "rejects")] == ["/a"]


def test_a_read_within_a_span_of_a_table_whose_rows_were_all_deleted_reads_nothing(tmp_path: Path):
    lake = str(tmp_path)
    delta.create(lake, "rejects", arrow_schema("rejects"))
    delta.merge(lake, "rejects", _rows("rejects", [_reject("/a")]), KEYS["rejects"])
    delta.delete_matching(lake, "rejects", pa.table({"uri": ["/a"]}))
    got = delta.read_table(lake, "rejects", ["uri"], where=pc.field("uri").isin(["/a"]), within={"uri": ("/a", "/a")})
    assert got.num_rows == 0


def test_rows_lacking_a_column_of_the_table_are_refused_not_padded_with_nulls(tmp_path: Path):
    lake = str(tmp_path)
    delta.create(lake, "rejects", arrow_schema("rejects"))
    with pytest.raises(RuntimeError, match=r"lack columns \['rejected_at'\]"):
        delta.merge(lake, "rejects", _rows("rejects", [_reject("/a")]).drop_columns(["rejected_at"]),
                    KEYS["rejects"])


def test_filtered_reads_give_plain_strings_and_maps_as_dicts(tmp_path: Path):
    lake = str(tmp_path)
    delta.create(lake, "datasets", arrow_schema("datasets"))
    rows = [{"name": n, "version": v, "created_at": NOW, "rows_per_split": {"train": v}}
            for n, v in (("a", 1), ("a", 2), ("b", 1))]
    delta.merge(lake, "datasets", _rows("datasets", rows), KEYS["datasets"], update=False)
    got = delta.read_rows(lake, "datasets", ["version", "rows_per_split"], where=pc.field("name") == "a")
    assert sorted(got, key=lambda r: r["version"]) == [{"version": 1, "rows_per_split": {"train": 1}},
                                                        {"version": 2, "rows_per_split": {"train": 2}}]
    assert delta.read_table(lake, "datasets").schema.field("name").type == pa.string()
    assert delta.columns(lake, "datasets") == arrow_schema("datasets").names


def test_a_missing_table_reads_as_none_and_cannot_be_merged_into(tmp_path: Path):
    assert delta.read_table(str(tmp_path), "videos") is None and delta.columns(str(tmp_path), "videos") is None
    with pytest.raises(RuntimeError, match="before it was created"):
        delta.merge(str(tmp_path), "videos", _rows("videos", []), KEYS["videos"])


def test_a_table_from_an_earlier_release_gains_the_missing_columns_and_keeps_its_rows(tmp_path: Path):
    lake, schema = str(tmp_path), arrow_schema("rejects")
    old = pa.schema([f for f in schema if f.name != "detail"])
    delta.create(lake, "rejects", old)
    delta.merge(lake, "rejects", pa.Table.from_pylist([_reject("/a")], schema=old), KEYS["rejects"])
    assert delta.add_missing_columns(lake, "rejects", schema) == ["detail"]
    assert delta.add_missing_columns(lake, "rejects", schema) == []
    assert delta.read_rows(lake, "rejects", ["uri", "detail"]) == [{"uri": "/a", "detail": None}]


def _clip(clip_id: str, version: int) -> dict:
    return {"dataset": "d1", "dataset_version": version, "clip_id": clip_id, "video_id": "v" + clip_id,
            "clip_index": 0, "start_frame": 0, "end_frame": 8, "split": "train"}


def test_a_read_within_a_span_opens_only_the_files_whose_statistics_reach_it(tmp_path: Path):
    lake = str(tmp_path)
    delta.create(lake, "clips", arrow_schema("clips"))
    for version in (1, 2, 3):  # one commit, one file, per version
        delta.append(lake, "clips", _rows("clips", [_clip(f"c{version}{i}", version) for i in range(3)]))
    table = delta.open_table(lake, "clips")
    assert len(delta.files_within(table, None)) == 3
    assert len(delta.files_within(table, {"dataset_version": (2, None)})) == 2
    assert len(delta.files_within(table, {"dataset_version": (2, 2)})) == 1
    assert delta.files_within(table, {"dataset_version": (4, None)}) == []
    assert len(delta.files_within(table, {"no_such_column": (4, None)})) == 3  # no statistics: kept
    got = delta.read_table(lake, "clips", ["clip_id"], where=pc.field("dataset_version") >= 3,
                           within={"dataset_version": (3, None)})
    assert sorted(got["clip_id"].to_pylist()) == ["c30", "c31", "c32"]
    # The span prunes files, the filter rows: a span wider than the filter gives the same rows.
    wide = delta.read_table(lake, "clips", ["clip_id"], where=pc.field("dataset_version") >= 3,
                            within={"dataset_version": (1, None)})
    assert sorted(wide["clip_id"].to_pylist()) == ["c30", "c31", "c32"]


def test_a_filtered_read_of_some_columns_reads_the_columns_its_filter_names(tmp_path: Path):
    lake = str(tmp_path)
    delta.create(lake, "rejects", arrow_schema("rejects"))
    delta.merge(lake, "rejects", _rows("rejects", [_reject("a.mp4"), _reject("b.mp4", "too_short")]), KEYS["rejects"])
    got = delta.read_table(lake, "rejects", ["uri"], where=(pc.field("reason") == "too_short") & (
        pc.field("dataset") == "d1"))
    assert got.column_names == ["uri"] and got["uri"].to_pylist() == ["b.mp4"]
