"""``Tables`` in the driver (delta-rs, no JVM): rows whose keys the lake does not hold are appended, not merged."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from pipelines.tables import Tables
from sora_model.lake import delta
from sora_model.lake.tables import arrow_schema

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _rejects(*pairs: tuple[str, str]) -> pa.Table:
    return pa.Table.from_pylist([{"dataset": "d1", "uri": uri, "size_bytes": 3, "modified_ms": 1, "stage": "probe",
                                  "reason": reason, "detail": "", "run_id": "r1", "rejected_at": NOW}
                                 for uri, reason in pairs], schema=arrow_schema("rejects"))


def _operations(lake: Path) -> list[str]:
    return [h["operation"] for h in reversed(DeltaTable(str(lake / "tables" / "rejects")).history())]


def test_rows_absent_from_the_present_keys_are_appended_and_the_others_merged(tmp_path: Path):
    tables = Tables(None, str(tmp_path))
    tables.merge_arrow("rejects", _rejects(("/a", "not_video"), ("/b", "not_video")))
    present = delta.read_table(str(tmp_path), "rejects", ["dataset", "uri"])
    tables.merge_arrow("rejects", _rejects(("/c", "too_short")), present=present)
    assert _operations(tmp_path)[-1] == "WRITE"  # an append: no file of the table was read
    present = delta.read_table(str(tmp_path), "rejects", ["dataset", "uri"])
    tables.merge_arrow("rejects", _rejects(("/a", "too_short"), ("/d", "too_short")), present=present)
    assert _operations(tmp_path)[-2:] == ["WRITE", "MERGE"]  # /d appended, /a merged (updated)
    got = {r["uri"]: r["reason"] for r in delta.read_rows(str(tmp_path), "rejects")}
    assert got == {"/a": "too_short", "/b": "not_video", "/c": "too_short", "/d": "too_short"}


def test_a_rerun_with_the_keys_read_again_adds_nothing(tmp_path: Path):
    tables = Tables(None, str(tmp_path))
    rows = _rejects(("/a", "not_video"), ("/b", "not_video"))
    for _ in range(2):
        tables.merge_arrow("rejects", rows, present=delta.read_table(str(tmp_path), "rejects", ["dataset", "uri"]))
    assert delta.read_table(str(tmp_path), "rejects").num_rows == 2


def test_staged_rows_are_streamed_in_parts_into_one_commit_and_known_keys_merged(tmp_path: Path):
    from pipelines.tables import Staged

    tables = Tables(None, str(tmp_path))
    tables.merge_arrow("rejects", _rejects(("/k0", "not_video")))
    # 40,000 staged rows (three parts of at most 16,384), one of them already in the table.
    staged = Staged.write(str(tmp_path / "staged"), _rejects(*[(f"/k{i}", "too_short") for i in range(40_000)]))
    present = delta.read_table(str(tmp_path), "rejects", ["dataset", "uri"])
    tables.merge_staged("rejects", staged, present=present, where=pc.field("uri") != "/k39999")
    assert _operations(tmp_path)[-2:] == ["WRITE", "MERGE"]  # the new rows in one commit, then /k0 updated
    got = delta.read_table(str(tmp_path), "rejects", ["uri", "reason"])
    assert got.num_rows == 39_999 and "/k39999" not in got["uri"].to_pylist()
    assert set(got["reason"].to_pylist()) == {"too_short"}
    # Again: nothing is appended; the rows it holds are merged (updated in place, none added).
    before = len(_operations(tmp_path))
    tables.merge_staged("rejects", staged, present=delta.read_table(str(tmp_path), "rejects", ["dataset", "uri"]),
                        where=pc.field("uri") != "/k39999")
    assert _operations(tmp_path)[-1] == "MERGE" and len(_operations(tmp_path)) == before + 1
    assert delta.read_table(str(tmp_path), "rejects", ["uri"]).num_rows == 39_999


def test_staged_files_are_gathered_into_parts_of_the_asked_size(tmp_path: Path):
    """Spark stages a file per task: each part costs a look-up among the lake's keys, so small files are gathered."""
    import pyarrow.parquet as pq

    from pipelines.tables import Staged

    for i in range(8):
        pq.write_table(_rejects(*[(f"/f{i}-{k}", "too_short") for k in range(10)]), tmp_path / f"part-{i}.parquet")
    staged = Staged.of(str(tmp_path))
    assert [p.num_rows for p in staged.parts()] == [80]
    assert [p.num_rows for p in staged.parts(rows_per_part=30)] == [30, 30, 20]
