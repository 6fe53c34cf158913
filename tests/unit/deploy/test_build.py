from __future__ import annotations

from pathlib import Path

import pytest

from sora_model.deploy.build import find_checkpoint, ratios
from tests.unit.deploy.conftest import save_checkpoint


def test_the_best_validation_epoch_of_the_newest_run_is_compressed(tmp_path: Path):
    models = tmp_path / "models"
    save_checkpoint(models / "20261201T000000Z-aaaaaa" / "epoch-1", run_id="20261201T000000Z-aaaaaa")
    newest = "20261201T010000Z-bbbbbb"
    for epoch, acc in ((1, 0.5), (2, 0.9), (3, 0.9), (4, 0.7)):
        save_checkpoint(models / newest / f"epoch-{epoch}", run_id=newest, epoch=epoch, val_accuracy=acc)
    (models / newest / "epoch-5").mkdir()  # incomplete: no card
    assert find_checkpoint(str(tmp_path), None, None) == str(models / newest / "epoch-3")  # a tie: the later
    assert find_checkpoint(str(tmp_path), newest, 1) == str(models / newest / "epoch-1")


def test_missing_runs_and_epochs_are_named(tmp_path: Path):
    with pytest.raises(ValueError, match="no training run with a checkpoint"):
        find_checkpoint(str(tmp_path), None, None)
    save_checkpoint(tmp_path / "models" / "r1" / "epoch-2", epoch=2)
    with pytest.raises(ValueError, match=r"no checkpoint epoch-9 \(has \['epoch-2'\]\)"):
        find_checkpoint(str(tmp_path), "r1", 9)
    with pytest.raises(ValueError, match="run 'r2' has no complete checkpoint"):
        find_checkpoint(str(tmp_path), "r2", None)


def _row(variant: str, fmt: str, size: int, p50: float, thr: float, acc: float) -> dict:
    return {"variant": variant, "format": fmt, "size_bytes": size,
            "metrics": {"test": {"accuracy": acc}, "speed": {"latency_ms_p50": p50, "throughput_clips_per_s_b32": thr}}}


def test_int8_is_compared_with_the_fp32_onnx_graph_and_the_rest_with_fp32():
    rows = [_row("fp32", "torch", 400, 2.0, 500, 0.9), _row("onnx", "onnx", 400, 1.0, 1000, 0.9),
            _row("int8-static", "onnx", 100, 0.5, 1500, 0.88), _row("distilled", "torch", 100, 1.0, 800, 0.8)]
    by = {r["variant"]: r for r in ratios(rows, "test", 32)}
    assert by["int8-static"]["against"] == "onnx" and by["int8-static"]["latency_x"] == 2.0
    assert by["int8-static"]["latency_x_vs_fp32"] == 4.0 and by["int8-static"]["size_x"] == 4.0
    assert by["int8-static"]["accuracy_drop_points"] == pytest.approx(2.0)
    assert by["onnx"]["against"] == "fp32" and by["distilled"]["against"] == "fp32"
    assert by["distilled"]["throughput_x"] == pytest.approx(1.6)


def test_variants_split_into_groups_that_build_apart_in_the_order_they_are_built():
    from sora_model.deploy.build import build_groups
    from sora_model.deploy.compress import VARIANTS

    assert build_groups(tuple(VARIANTS)) == [("onnx", "int8-dynamic", "int8-static"), ("pruned",),
                                             ("pruned-channels",), ("distilled",)]
    # The int8 variants quantize the ONNX graph their own group exports, wanted or not.
    assert build_groups(("distilled", "int8-static")) == [("int8-static",), ("distilled",)]
    assert build_groups(()) == []
