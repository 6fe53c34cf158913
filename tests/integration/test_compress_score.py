"""Compression variants of a real checkpoint (registered with lineage) and batch scoring on local[2] Spark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines.score import ScoreConfig, run_score
from pipelines.tables import Tables
from sora_model import config as config_lib
from sora_model.video.synth import write_corpus
from tests.integration.conftest import VARIANTS, copy_lake


@pytest.fixture(scope="module")
def compressed(compressed_lake, tmp_path_factory) -> dict:
    """The trained and compressed lake, copied: these tests set aliases and write predictions."""
    return copy_lake(compressed_lake, tmp_path_factory.mktemp("compress-score") / "lake")


@pytest.mark.slow
def test_every_variant_is_written_loads_and_predicts(compressed):
    from sora_model.deploy.variants import load_predictor

    run = compressed["run"]
    clips = np.zeros((3, 4, 32, 32, 3), dtype=np.uint8)
    for name in VARIANTS:
        meta = json.loads((run / name / "meta.json").read_text())
        assert meta["parent_uri"].endswith("/small/epoch-2") or meta["parent_uri"].endswith("/small/epoch-1")
        predictor = load_predictor(run / name, threads=1)
        assert predictor.probabilities(clips).shape == (3, len(meta["classes"]))
        assert {"val", "speed"} <= set(meta["metrics"])
    onnx = json.loads((run / "onnx" / "meta.json").read_text())
    assert onnx["onnx_max_abs_logit_diff"] <= 1e-3
    channels = json.loads((run / "pruned-channels-0.5" / "meta.json").read_text())
    assert channels["widths"] == [4, 8]
    assert (run / "comparison.png").stat().st_size > 10_000
    rows = json.loads((run / "comparison.json").read_text())["rows"]
    assert [r["variant"] for r in rows] == ["fp32", *VARIANTS]


@pytest.mark.slow
def test_variant_rows_point_at_a_registered_checkpoint(spark, compressed):
    models = Tables(spark, str(compressed["lake"])).read("models").where("run_id = 'small'").collect()
    checkpoints = {r["uri"] for r in models if r["variant"] == "fp32"}
    variants = {r["variant"]: r for r in models if r["variant"] != "fp32"}
    assert set(variants) == set(VARIANTS)
    for row in variants.values():
        assert row["parent_uri"] in checkpoints
        assert json.loads(row["metrics_json"])["val"]["samples"] > 0


@pytest.fixture(scope="module")
def new_videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("incoming")
    write_corpus(root, videos=3, seed=77, bad_files=False)
    (root / "corrupt.mp4").write_bytes((root / "part-0" / "clip_0000.mp4").read_bytes()[:3000])
    return root


def _score(spark, lake: Path, model: str, input_dir: Path):
    overrides = [f"model={model}", f"input_uri={input_dir}", f"lake_uri={lake}", "clip.mode=shots",
                 "clip.stride_s=2.0", "tasks_per_core=1"]
    return run_score(spark, config_lib.load(ScoreConfig, None, overrides))


@pytest.mark.slow
def test_scoring_predicts_good_videos_rejects_the_corrupt_one_and_reruns_add_nothing(spark, compressed,
                                                                                     new_videos):
    lake = compressed["lake"]
    first = _score(spark, lake, str(compressed["run"] / "int8-static"), new_videos)
    assert (first.files, first.scored_videos, first.rejected) == (4, 3, 1)
    assert first.max_model_loads_per_process == 1  # once per worker process, not per batch or video
    tables = Tables(spark, str(lake))
    preds = tables.read("predictions").collect()
    assert len(preds) == first.predictions > 0
    assert {Path(p["uri"]).name for p in preds} == {"clip_0000.mp4", "clip_0001.mp4", "clip_0002.mp4"}
    assert all(abs(sum(p["probabilities"]) - 1) < 1e-6 and p["model_id"].endswith("/int8-static") for p in preds)
    reject = tables.read("rejects").where("uri like '%corrupt.mp4'").collect()
    assert len(reject) == 1 and reject[0]["reason"] == "unreadable"
    version = tables.version("predictions")
    again = _score(spark, lake, str(compressed["run"] / "int8-static"), new_videos)
    assert again.predictions == first.predictions
    assert tables.read("predictions").count() == len(preds)
    assert tables.read("rejects").where("uri like '%corrupt.mp4'").count() == 1
    assert tables.version("predictions") >= version


@pytest.mark.slow
def test_scoring_by_models_table_id(spark, compressed, new_videos):
    meta = json.loads((compressed["run"] / "distilled" / "meta.json").read_text())
    model_id = f"small/{meta['epoch']}/distilled"
    summary = _score(spark, compressed["lake"], model_id, new_videos)
    assert summary.model_id == model_id and summary.scored_videos == 3
    preds = Tables(spark, str(compressed["lake"])).read("predictions").where(f"model_id = '{model_id}'").count()
    assert preds == summary.predictions


@pytest.mark.slow
def test_scoring_with_the_fp32_checkpoint_itself(spark, compressed, new_videos):
    epoch = json.loads((compressed["run"] / "onnx" / "meta.json").read_text())["epoch"]
    summary = _score(spark, compressed["lake"], f"small/{epoch}/fp32", new_videos)
    assert summary.scored_videos == 3 and summary.predictions > 0


@pytest.mark.slow
def test_production_alias_serves_scoring_rolls_back_and_predictions_name_the_entry(spark, compressed, new_videos,
                                                                                  capsys):
    from jobs.alias import main
    from pipelines.models import alias_history, set_alias

    lake = compressed["lake"]
    tables = Tables(spark, str(lake))
    epoch = json.loads((compressed["run"] / "pruned-0.5" / "meta.json").read_text())["epoch"]
    first = set_alias(tables, "production", f"small/{epoch}/pruned-0.5", "first deploy")
    assert (first.seq, first.model_id, first.deployed_id) == (1, f"small/{epoch}/fp32", f"small/{epoch}/pruned-0.5")
    assert set_alias(tables, "production", f"small/{epoch}/pruned-0.5", "again") is None
    set_alias(tables, "production", f"small/{epoch}/pruned-channels-0.5", "fewer channels")
    served = _score(spark, lake, "production", new_videos)
    assert (served.model_id, served.alias) == (f"small/{epoch}/pruned-channels-0.5", "production #2")

    assert main(["--rollback", "--reason", "channels model misbehaves", f"lake_uri={lake}"]) == 0
    out = capsys.readouterr().out
    assert "rolled back: production #3" in out and "channels model misbehaves" in out
    history = alias_history(tables, "production")
    assert [(e.seq, e.action, e.deployed_id) for e in history.entries] == [
        (1, "set", f"small/{epoch}/pruned-0.5"), (2, "set", f"small/{epoch}/pruned-channels-0.5"),
        (3, "rollback", f"small/{epoch}/pruned-0.5")]
    again = _score(spark, lake, "production", new_videos)
    assert (again.model_id, again.alias) == (f"small/{epoch}/pruned-0.5", "production #3")
    # Lineage: each prediction names the model and the alias entry that served it.
    rows = tables.read("predictions").where("alias is not null").select("model_id", "alias", "alias_seq").distinct()
    assert {tuple(r) for r in rows.collect()} == {(f"small/{epoch}/pruned-channels-0.5", "production", 2),
                                                   (f"small/{epoch}/pruned-0.5", "production", 3)}
    with pytest.raises(ValueError, match="alias 'staging' is not set .*aliases there: production"):
        _score(spark, lake, "staging", new_videos)


def _darker_copies(src: Path, dst: Path, factor: float) -> None:
    """Every video of ``src`` re-encoded with its pictures ``factor`` times as bright (a camera gone dim)."""
    import av

    from sora_model.video.writers import encode_frames

    for video in sorted(src.rglob("*.mp4")):
        if video.name == "corrupt.mp4":
            continue
        with av.open(str(video)) as c:
            stream = c.streams.video[0]
            fps = int(round(float(stream.average_rate)))
            frames = [(f.to_ndarray(format="rgb24") * factor).astype(np.uint8) for f in c.decode(stream)]
        h, w = frames[0].shape[:2]
        encode_frames(dst / video.relative_to(src), frames, w, h, fps, fragmented=False)


@pytest.mark.slow
def test_monitoring_rows_per_scoring_run_and_a_dim_camera_raises_a_drift_alert(spark, compressed, new_videos,
                                                                               tmp_path, capsys):
    from jobs.monitor import main

    lake = compressed["lake"]
    tables = Tables(spark, str(lake))
    lenient = ["thresholds.max_class_psi=1000", "thresholds.max_input_psi=1000", "baseline_clips=200"]
    assert main([f"lake_uri={lake}", *lenient]) == 0
    runs = {r["run_id"] for r in tables.read("predictions").select("run_id").distinct().collect()}
    rows = {r["score_run_id"]: r for r in tables.read("monitoring").collect()}
    assert set(rows) == runs and len(runs) >= 2
    some = next(iter(runs))
    preds = tables.read("predictions").where(f"run_id = '{some}'").collect()
    assert rows[some]["clips"] == len(preds) and sum(rows[some]["class_mix"].values()) == len(preds)
    assert rows[some]["brightness_mean"] == pytest.approx(np.mean([p["brightness"] for p in preds]))
    assert rows[some]["alerts"] == [] and rows[some]["labelled_clips"] == 0  # new videos: no labels
    assert main([f"lake_uri={lake}", *lenient]) == 0 and "no scoring run to monitor" in capsys.readouterr().out

    # The same videos through a camera at a third of the brightness: inputs drift from the training data.
    dim = tmp_path / "dim"
    _darker_copies(new_videos, dim, 0.3)
    epoch = json.loads((compressed["run"] / "onnx" / "meta.json").read_text())["epoch"]
    scored = _score(spark, lake, f"small/{epoch}/onnx", dim)
    assert main([f"lake_uri={lake}", f"score_run_id={scored.run_id}", "thresholds.min_clips=5",
                 "baseline_clips=200"]) == 3
    out = capsys.readouterr().out
    assert "ALERT               input brightness drifted: PSI" in out
    row = tables.read("monitoring").where(f"score_run_id = '{scored.run_id}'").collect()[0]
    assert row["brightness_mean"] < 0.5 * rows[some]["brightness_mean"]
    assert any(a.startswith("input brightness drifted") for a in row["alerts"])
