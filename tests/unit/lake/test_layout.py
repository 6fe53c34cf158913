from __future__ import annotations

from pathlib import Path

import pytest

from sora_model.lake.layout import LakeLayout, epoch_of


def test_every_path_hangs_off_the_root(tmp_path: Path):
    layout = LakeLayout.of(str(tmp_path / "lake"))
    root = str(tmp_path / "lake")
    assert layout.table("clips") == f"{root}/tables/clips"
    assert layout.dataset_version("demo", 3) == f"{root}/datasets/demo/v3"
    assert layout.checkpoint("r1", 7) == f"{root}/models/r1/epoch-7"
    assert layout.variant("r1", "int8-static") == f"{root}/models/r1/int8-static"
    assert layout.run_record("r1") == f"{root}/runs/r1" and layout.staging("r1") == f"{root}/_staging/r1"


def test_object_store_roots_keep_their_scheme():
    assert LakeLayout.of("s3a://bucket/lake/").table("videos") == "s3a://bucket/lake/tables/videos"


def test_an_unknown_table_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown table 'clip'"):
        LakeLayout.of(str(tmp_path)).table("clip")


def test_only_complete_checkpoints_count_in_epoch_order(tmp_path: Path):
    layout = LakeLayout.of(str(tmp_path))
    for name, complete in (("epoch-10", True), ("epoch-2", True), ("epoch-3", False), (".tmp-epoch-4-x", True),
                           ("int8-static", True)):
        d = tmp_path / "models" / "r1" / name
        d.mkdir(parents=True)
        if complete:
            (d / "meta.json").write_text("{}")
    assert [epoch_of(c) for c in layout.checkpoints("r1")] == [2, 10]
    assert layout.training_runs() == ["r1"] and layout.checkpoints("r2") == []


def test_epoch_of_refuses_a_variant_directory():
    with pytest.raises(ValueError, match="not a checkpoint"):
        epoch_of("/lake/models/r1/onnx")
