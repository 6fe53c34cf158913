"""The update cycle on local[2] Spark: curate -> train a candidate -> compare on the same clips -> promote or keep ->
score -> a decision row; a second cycle with nothing new writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.report import main as report_main
from pipelines.cycle import CycleConfig, run_cycle
from pipelines.models import alias_history
from pipelines.tables import Tables
from sora_model import config as config_lib
from sora_model.deploy.promotion import PromotionConfig, decide
from sora_model.lake.layout import TABLES
from sora_model.video.synth import write_corpus
from tests.integration.conftest import CYCLE_OVERRIDES, add_videos

ROOT = Path(__file__).resolve().parents[2]


def _cfg(input_dir: Path, lake: Path) -> CycleConfig:
    return config_lib.load(CycleConfig, ROOT / "conf" / "cycle" / "local.yaml", [
        f"input_uri={input_dir}", f"lake_uri={lake}", *CYCLE_OVERRIDES,
        f"tracking.mlflow_uri=sqlite:///{lake.parent}/mlflow.db"])


def _mlflow_runs(lake: Path, kind: str) -> list:  # noqa: ANN401 - mlflow Run objects
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{lake.parent}/mlflow.db")
    experiment = client.get_experiment_by_name("sora_model")
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.`sora.kind` = '{kind}'",
                              order_by=["attributes.start_time ASC"])


@pytest.mark.slow
def test_cycles_promote_a_first_model_decide_the_next_on_the_same_clips_and_skip_what_was_decided(spark,
                                                                                                 tmp_path: Path):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    write_corpus(inbox, videos=8, seed=31, bad_files=False)
    tables = Tables(spark, str(lake))

    first = run_cycle(spark, _cfg(inbox, lake))
    assert (first.dataset_version, first.action, first.reason) == (1, "promoted", "no model in use yet")
    run, epoch = first.candidate_id.split("/")[:2]
    assert run == "cycle-demo-v1" and first.serving_id == f"{run}/{epoch}/int8-static"
    (entry,) = alias_history(tables, "production").entries
    assert (entry.action, entry.set_by, entry.deployed_id) == ("promote", first.run_id, first.serving_id)
    assert first.scored_videos == 8 and first.predictions > 0

    versions = {t: tables.version(t) for t in TABLES}
    again = run_cycle(spark, _cfg(inbox, lake))
    assert again.action == "nothing_new" and f"cycle {first.run_id} decided" in again.reason
    assert {t: tables.version(t) for t in TABLES} == versions  # a cycle with nothing new writes nothing

    add_videos(inbox, "batch2", videos=4, seed=32, scratch=tmp_path / "scratch")
    second = run_cycle(spark, _cfg(inbox, lake))
    assert second.dataset_version == 2 and second.action in ("promoted", "kept")
    assert second.production_id == f"{run}/{epoch}/fp32" and second.candidate_id.startswith("cycle-demo-v2/")
    # The warm start began from the model in use.
    assert f"init_from: {lake}/models/{run}/epoch-{epoch}" in (lake / "models" / "cycle-demo-v2" / "config.yaml") \
        .read_text()
    rows = {r["dataset_version"]: r for r in tables.read("decisions").collect()}
    assert set(rows) == {1, 2}
    row = rows[2]
    assert row["cycle_run_id"] == second.run_id and row["action"] == second.action
    assert row["test_clips_new"] >= row["test_clips_old"] > 0  # the new test split holds the old one
    # The recorded numbers give the recorded decision under the recorded rule.
    m = lambda v, n: {"macro_f1": v, "accuracy": v, "samples": n}  # noqa: E731
    decision = decide(PromotionConfig(), m(row["candidate_new"], row["test_clips_new"]),
                      m(row["production_new"], row["test_clips_new"]), m(row["candidate_old"], row["test_clips_old"]),
                      m(row["production_old"], row["test_clips_old"]))
    assert decision.promote == (row["action"] == "promoted") and decision.reason == row["reason"]
    assert second.scored_videos == 4  # only the new videos, by the model in use after the decision
    latest = alias_history(tables, "production").current
    served = tables.read("predictions").where(f"alias_seq = {latest.seq} and model_id = '{latest.serving_id}'")
    assert served.count() >= second.predictions > 0
    # Each cycle's scoring run was monitored; what it raised is in the decision row.
    monitored = {r["score_run_id"] for r in tables.read("monitoring").collect()}
    assert len(monitored) == 2 and row["alerts"] == second.alerts
    assert second.exit_status == (3 if second.alerts else 0)

    # MLflow mirrors each cycle that decided a version (the nothing-new one left it alone too), with the
    # candidate's training and compression nested under it.
    cycles = _mlflow_runs(lake, "cycle")
    assert [c.data.tags["sora.action"] for c in cycles] == ["promoted", second.action]
    assert all(c.info.status == "FINISHED" for c in cycles)
    assert cycles[1].data.metrics["candidate_new"] == pytest.approx(row["candidate_new"])
    assert cycles[1].data.params["promotion.metric"] == row["promotion_metric"]
    trains = {t.data.tags["sora.run_id"]: t for t in _mlflow_runs(lake, "train")}
    assert set(trains) == {"cycle-demo-v1", "cycle-demo-v2"}
    assert trains["cycle-demo-v2"].data.tags["mlflow.parentRunId"] == cycles[1].info.run_id
    assert trains["cycle-demo-v2"].data.params["init_from"] == f"{lake}/models/{run}/epoch-{epoch}"
    assert trains["cycle-demo-v1"].data.tags[f"checkpoint.epoch-{epoch}"] == str(lake / "models" / run /
                                                                                   f"epoch-{epoch}")
    assert 0 <= trains["cycle-demo-v1"].data.metrics["val.accuracy"] <= 1
    compressions = _mlflow_runs(lake, "compress")
    assert compressions[0].data.tags["mlflow.parentRunId"] == cycles[0].info.run_id
    assert compressions[0].data.tags["variant.int8-static"] == str(lake / "models" / run / "int8-static")
    assert "int8-static.speed.latency_ms_p50" in compressions[0].data.metrics

    # The report shows it all: every section, its plots, both decisions and the walk back from what serves.
    assert report_main([f"lake_uri={lake}"]) == 0
    page = (lake / "report" / "index.html").read_text()
    for section in ("files", "clips", "splits", "training", "confusion", "compression", "promotion", "drift",
                    "lineage"):
        assert f'id="{section}"' in page
    for png in ("clip_lengths", "splits", "training", "confusion", "compression", "promotion", "drift"):
        assert f'src="{png}.png"' in page and (lake / "report" / f"{png}.png").stat().st_size > 5000
    assert f"<td>{second.action}</td>" in page and "<td>promoted</td>" in page and "<td>v2</td>" in page
    assert f"<td>deployed variant</td><td>{latest.serving_id}</td>" in page
    version = int(latest.model_id.split("/")[0].rsplit("-v", 1)[1])
    sources = tables.read("clips").where(f"dataset_version <= {version} and filter_reason is null") \
        .select("video_id").distinct().count()
    assert f"<td>cut from source videos</td><td>{sources}</td>" in page
