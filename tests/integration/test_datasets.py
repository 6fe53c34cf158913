"""One lake, two datasets with different settings over the same corpus: each keeps exactly the rows it would have
alone, whichever is curated first, and the report speaks of one dataset at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sora_model.lake import delta
from sora_model.lake.tables import KEYS
from sora_model.report.build import LakeView, ReportConfig
from tests.integration.conftest import copy_corpus, differences, lake_rows, run

# 'motion' judges the same files otherwise: short videos are rejects, clips are fixed 1 s windows, other splits.
SETTINGS = {"demo": (), "motion": ("dataset=motion", "clean.min_duration_s=6.0", "clip.mode=fixed",
                                   "clip.clip_len_s=1.0", "clip.stride_s=1.0", "split.train_frac=0.7",
                                   "split.val_frac=0.1")}


@pytest.fixture(scope="module")
def two_lakes(spark, corpus: Path, tmp_path_factory) -> dict[str, Any]:
    """Lake 'ab' gets demo then motion, lake 'ba' motion then demo; each dataset's rows are kept as they were
    when it was the lake's only dataset."""
    work = tmp_path_factory.mktemp("datasets")
    input_dir = copy_corpus(corpus, work / "input")
    out: dict[str, Any] = {"input": input_dir, "alone": {}, "summaries": {}}
    for name, order in (("ab", ("demo", "motion")), ("ba", ("motion", "demo"))):
        lake = work / name
        for i, dataset in enumerate(order):
            out["summaries"][name, dataset] = run(spark, input_dir, lake, *SETTINGS[dataset])
            if i == 0:
                out["alone"][dataset] = lake_rows(lake, dataset)
        out[name] = lake
    return out


@pytest.mark.parametrize("dataset", sorted(SETTINGS))
@pytest.mark.parametrize("lake", ["ab", "ba"])
def test_each_dataset_has_the_rows_it_has_alone_in_either_order(two_lakes, lake: str, dataset: str):
    shared = lake_rows(two_lakes[lake], dataset)
    alone = two_lakes["alone"][dataset]
    for table in alone:
        assert shared[table] == alone[table], (f"{dataset}'s {table} rows changed when it shared lake {lake}: "
                                               f"{differences(shared[table], alone[table])}")


def test_the_two_datasets_judge_the_same_files_differently(two_lakes):
    rows = {d: lake_rows(two_lakes["ab"], d) for d in SETTINGS}
    reasons = {d: {dict(r)["uri"]: dict(r)["reason"] for r in rows[d]["rejects"]} for d in SETTINGS}
    videos = {d: {dict(r)["uri"] for r in rows[d]["videos"]} for d in SETTINGS}
    short = {uri for uri, why in reasons["motion"].items() if why == "too_short"} - set(reasons["demo"])
    assert short and short <= videos["demo"]  # curated in one dataset, rejected in the other
    assert not videos["motion"] & set(reasons["motion"]) and not videos["demo"] & set(reasons["demo"])
    # Every listed file is accounted for once per dataset.
    files = {str(p) for p in two_lakes["input"].rglob("*") if p.is_file()
             and p.name not in ("labels.csv", "manifest.json")}
    for d in SETTINGS:
        assert videos[d] | set(reasons[d]) == files and not videos[d] & set(reasons[d])
    for table in ("videos", "rejects"):  # one row per key, the keys naming the dataset
        keys = [tuple(r[k] for k in KEYS[table]) for r in delta.read_rows(str(two_lakes["ab"]), table)]
        assert len(keys) == len(set(keys))


def test_a_rerun_of_either_dataset_adds_nothing(spark, two_lakes):
    lake = two_lakes["ba"]
    before = {t: delta.table_version(str(lake), t) for t in ("videos", "rejects", "clips", "datasets")}
    for dataset, settings in SETTINGS.items():
        summary = run(spark, two_lakes["input"], lake, *settings)
        assert summary.files_new == 0 and summary.dataset_version is None, dataset
    assert {t: delta.table_version(str(lake), t) for t in before} == before


def test_the_report_counts_files_and_lineage_of_its_own_dataset(two_lakes):
    lake = two_lakes["ab"]
    for dataset in SETTINGS:
        view = LakeView(ReportConfig(lake_uri=str(lake), dataset=dataset))
        rows = lake_rows(lake, dataset)
        assert len(view.videos) == len(rows["videos"]) and len(view.rejects) == len(rows["rejects"])
        kept = {c["video_id"] for c in view.clips_of(dataset) if not c["filter_reason"]}
        assert kept == {v["video_id"] for v in view.videos_of(dataset)}


def test_what_a_file_is_is_found_once_and_the_second_dataset_reuses_it(two_lakes):
    lake = str(two_lakes["ab"])
    first, second = two_lakes["summaries"]["ab", "demo"], two_lakes["summaries"]["ab", "motion"]
    assert first.files_probed_before == 0
    files = delta.read_rows(lake, "files")
    keys = [tuple(r[k] for k in KEYS["files"]) for r in files]
    assert len(keys) == len(set(keys))
    # Every video either dataset curated has its facts there, found by the run that probed the file first.
    curated = {r["uri"] for r in delta.read_rows(lake, "videos")}
    assert curated <= {r["uri"] for r in files}
    assert second.files_probed_before == len([r for r in files if r["run_id"] == first.run_id]) > 0
    # The second dataset's rows carry the same facts, though its run read none of those files.
    facts = {r["uri"]: (r["video_id"], r["codec"], r["duration_s"], r["signature"]) for r in files}
    for v in delta.read_rows(lake, "videos"):
        assert (v["video_id"], v["codec"], v["duration_s"], v["signature"]) == facts[v["uri"]]
