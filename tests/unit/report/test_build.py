"""The report on a lake that has nothing yet, and on one whose only table is written here with delta-rs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sora_model.lake.layout import LakeLayout
from sora_model.report.build import SECTIONS, ReportConfig, write_report


def test_a_lake_with_no_tables_gets_a_page_whose_sections_say_what_is_missing(tmp_path: Path) -> None:
    index = write_report(ReportConfig(lake_uri=str(tmp_path / "lake")))
    page = Path(index).read_text()
    assert index == str(tmp_path / "lake" / "report" / "index.html")
    assert page.count("<section") == len(SECTIONS)
    for missing in ("No clips of dataset demo yet", "No training run is registered", "No compressed variants yet",
                    "No update cycle has decided", "No scoring run has been monitored",
                    "No model is deployed yet"):
        assert missing in page
    assert "0 files seen" in page


def test_rejects_are_counted_per_reason_and_plotted(tmp_path: Path) -> None:
    from deltalake import write_deltalake

    lake = tmp_path / "lake"
    rows = [{"dataset": "demo", "uri": f"/in/{n}", "stage": "probe", "reason": r, "detail": "d <b>"} for n, r in
            [("a.mp4", "empty_file"), ("b.mp4", "not_video"), ("c.mp4", "not_video")]]
    write_deltalake(LakeLayout.of(str(lake)).table("rejects"), pa.Table.from_pylist(rows))
    page = Path(write_report(ReportConfig(lake_uri=str(lake), out_uri=str(tmp_path / "out")))).read_text()
    assert "3 files seen under the inputs: 0 curated videos, 3 rejected" in page
    assert "<td>not_video</td><td>probe</td><td>2</td><td>b.mp4</td><td>d &lt;b&gt;</td>" in page  # escaped
    assert (tmp_path / "out" / "rejects.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_config_names_a_bad_value() -> None:
    with pytest.raises(ValueError, match="max_runs must be >= 1.*got 0"):
        ReportConfig(max_runs=0)
