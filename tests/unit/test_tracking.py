"""MLflow mirroring against a real sqlite tracking store."""

from __future__ import annotations

from pathlib import Path

import pytest

from sora_model.tracking import Tracker, TrackingConfig, numeric, open_run, tracked

pytest.importorskip("mlflow")


def _client(uri: str):  # noqa: ANN202 - mlflow's client
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def test_tracking_off_gives_a_tracker_that_does_nothing() -> None:
    tracker = open_run(TrackingConfig(), "train", "r1")
    assert isinstance(tracker, Tracker) and not tracker.active and tracker.run_id is None
    tracker.log_params({"a": 1})
    tracker.log_metrics({"loss": 1.0})
    tracker.finish()


def test_a_lake_run_is_one_mlflow_run_reopened_with_its_first_params_kept(tmp_path: Path) -> None:
    cfg = TrackingConfig(mlflow_uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="exp")
    with tracked(cfg, "train", "r1", tags={"sora.lake_run": "lake/models/r1", "skipped": None}) as first:
        first.log_params({"epochs": 2, "lr": 0.1})
        first.log_metrics({"val": {"accuracy": 0.5, "confusion_matrix": [[1]]}, "note": "text"}, step=1)
        first.log_series({"loss": [(1, 2.0), (2, 1.5)]})
        first.log_metrics({"time_s": {"compress+promote": 3.0}})  # '+' is not allowed in an MLflow name
    with tracked(cfg, "train", "r1") as again:  # a resumed run
        again.log_params({"epochs": 4, "seed": 0})
        again.log_metrics({"val": {"accuracy": 0.75}}, step=2)
    assert again.run_id == first.run_id
    client = _client(cfg.mlflow_uri)
    run = client.get_run(first.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "train-r1"
    assert run.data.params == {"epochs": "2", "lr": "0.1", "seed": "0"}
    assert run.data.tags["sora.run"] == "train/r1" and run.data.tags["sora.lake_run"] == "lake/models/r1"
    assert "skipped" not in run.data.tags
    assert [(m.step, m.value) for m in client.get_metric_history(first.run_id, "val.accuracy")] == [(1, 0.5),
                                                                                                     (2, 0.75)]
    assert [m.value for m in client.get_metric_history(first.run_id, "loss")] == [2.0, 1.5]
    assert set(run.data.metrics) == {"val.accuracy", "loss", "time_s.compress_promote"}


def test_a_run_that_raises_is_marked_failed_and_nested_runs_name_their_parent(tmp_path: Path) -> None:
    cfg = TrackingConfig(mlflow_uri=f"sqlite:///{tmp_path}/mlflow.db")
    parent = open_run(cfg, "cycle", "c1")
    with pytest.raises(RuntimeError), tracked(cfg, "train", "r2", parent=parent.run_id) as child:
        raise RuntimeError("boom")
    run = _client(cfg.mlflow_uri).get_run(child.run_id)
    assert run.info.status == "FAILED" and run.data.tags["mlflow.parentRunId"] == parent.run_id


def test_an_unusable_tracking_uri_stops_before_any_work_and_says_what_to_fix() -> None:
    with pytest.raises(ValueError, match=r"tracking.mlflow_uri='nosuch://x' cannot be used .*unset it"):
        open_run(TrackingConfig(mlflow_uri="nosuch://x"), "train", "r1")


def test_an_empty_tracking_uri_is_rejected_by_the_config() -> None:
    with pytest.raises(ValueError, match="tracking.mlflow_uri"):
        TrackingConfig(mlflow_uri=" ")


def test_numeric_keeps_finite_numbers_with_dotted_keys() -> None:
    assert numeric({"a": 1, "b": {"c": 2.5, "d": float("nan"), "e": [1]}, "f": None, "g": True}) == {
        "a": 1.0, "b.c": 2.5, "g": 1.0}
