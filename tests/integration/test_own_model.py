"""Models and training code from outside the project: the docs' example script and a user's class through the
training job, compression, the cycle (promotion, warm start) and scoring on real Spark, Delta and DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from pipelines.cycle import CycleConfig, run_cycle
from pipelines.tables import Tables
from sora_model import config as config_lib
from sora_model.lake.card import read_card
from tests.docs_commands import commands
from tests.integration.conftest import TEST_OVERRIDES, copy_corpus, run
from sora_model.video.synth import write_corpus

ROOT = Path(__file__).resolve().parents[2]
HERE = f"{__name__}:FrameDiffNet"


class FrameDiffNet(nn.Module):
    """A user's model, defined in this test module: a linear head over per-frame-difference mean colours."""

    def __init__(self, num_classes: int, frames_shape: list[int], hidden: int = 4) -> None:
        super().__init__()
        frames = int(frames_shape[0])
        self.body = nn.Sequential(nn.Linear(6 * frames, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = clips.float() / 255.0
        diff = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)
        cues = torch.cat([x.mean(dim=(2, 3)), diff.abs().mean(dim=(2, 3))], dim=-1)  # [B, T, 6]
        return self.head(self.body(cues.flatten(1)))


@pytest.mark.slow
def test_the_documented_commands_train_a_model_from_outside_the_project_and_compress_it(spark, corpus, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for name in ("jobs", "conf", "examples"):
        (work / name).symlink_to(ROOT / name)
    # Three augmented copies per clip: the docs' batch sizes (16 per rank, 32 to fine-tune) need the rows.
    run(spark, copy_corpus(corpus, tmp_path / "input"), work / "lake", "augment.copies=3")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    example, train, compress = commands("own-model")

    def bash(cmd: str) -> subprocess.CompletedProcess:
        done = subprocess.run(["bash", "-c", cmd], cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    out = bash(example).stderr
    assert "epoch 1:" in out and "epoch 2:" in out, out[-2000:]
    state = torch.load(work / "runs" / "own-model" / "checkpoint.pt", weights_only=True)
    assert state["reader"]["epoch"] == 1 and state["step"] == 2 * state["reader"]["batches_done"] > 0
    resumed = bash(example.replace("--epochs 2", "--epochs 3 --resume")).stderr
    assert f"resumed at epoch 3, step {state['step']}" in resumed and "epoch 3:" in resumed, resumed[-2000:]

    out = bash(train).stdout
    assert "registered 20 checkpoints" in out, out[-2000:]
    (run_id,) = [p.name for p in (work / "lake" / "models").iterdir()]
    card = read_card(str(work / "lake" / "models" / run_id / "epoch-20"))
    assert card.model_class == "train_own_model:VideoNet" and card.model_config["hidden"] == 16
    assert card.model_config["frames_shape"] == card.frames_shape

    done = bash(compress)
    assert "pruned-channels-0.5 skipped" in done.stderr, done.stderr[-2000:]
    made = {p.name for p in (work / "lake" / "models" / run_id).iterdir() if not p.name.startswith("epoch-")}
    assert {"onnx", "int8-dynamic", "int8-static", "pruned-0.5", "distilled"} <= made
    assert "pruned-channels-0.5" not in made and "registered 5 variants" in done.stdout
    pruned = read_card(str(work / "lake" / "models" / run_id / "pruned-0.5"))
    distilled = read_card(str(work / "lake" / "models" / run_id / "distilled"))
    assert pruned.model_class == "train_own_model:VideoNet" and pruned.facts["sparsity"] > 0.4
    assert distilled.model_class == "sora_model.train.model:SoraModel"  # a built-in student of the user's teacher


def _cycle_cfg(inbox: Path, lake: Path, *extra: str) -> CycleConfig:
    return config_lib.load(CycleConfig, ROOT / "conf" / "cycle" / "local.yaml", [
        f"input_uri={inbox}", f"lake_uri={lake}", *(f"curate.{o}" for o in TEST_OVERRIDES),
        "train.epochs=2", f"train.model={HERE}", "train.model_args.hidden=8", "train.reader.batch_size=8",
        "train.num_workers=0", "train.optim.warmup_steps=2", "compress.variants=[onnx,int8-static,pruned]",
        "compress.finetune.epochs=1", "compress.finetune.batch_size=8", "compress.latency_runs=5",
        "compress.calibration_clips=16", "deploy_variant=pruned", "score.tasks_per_core=1",
        "score.clip.stride_s=2.0", *extra])


@pytest.mark.slow
def test_a_cycle_promotes_and_scores_with_a_model_class_from_a_test_module_and_warm_starts_only_that_class(
        spark, tmp_path):
    from sora_model.dataset.catalog import load_dataset
    from sora_model.lake.layout import LakeLayout
    from sora_model.train.loop import TrainConfig, Trainer, init_checkpoint

    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    write_corpus(inbox, videos=8, seed=31, bad_files=False)
    summary = run_cycle(spark, _cycle_cfg(inbox, lake))
    assert summary.action == "promoted" and summary.serving_id.endswith("/pruned-0.5"), summary
    # The pruned variant is the user's class, in PyTorch: the scoring tasks rebuilt it from its card.
    assert summary.scored_videos == 8 and summary.predictions > 0
    rows = Tables(spark, str(lake)).read("predictions").select("model_id").distinct().collect()
    assert [r.model_id for r in rows] == [summary.serving_id]
    candidate = LakeLayout.of(str(lake)).checkpoint(*summary.candidate_id.split("/")[:1],
                                                    int(summary.candidate_id.split("/")[1]))
    card = read_card(candidate)
    assert (card.model_class, card.model_config["hidden"]) == (HERE, 8)
    assert json.loads(json.dumps(card.model_config))["frames_shape"] == card.frames_shape

    # A warm start takes the checkpoint's keywords (hidden=8, whatever model_args say now) and its weights...
    dataset = load_dataset(str(lake), "demo")
    cfg = config_lib.load(TrainConfig, None, [f"lake_uri={lake}", f"model={HERE}", "model_args.hidden=2",
                                              f"init_from={candidate}", "num_workers=0"])
    trainer = Trainer(cfg, "warm")
    assert trainer.model_spec.args["hidden"] == 8
    weights = torch.load(Path(candidate) / "model.pt", weights_only=True)
    assert all(torch.equal(weights[k], v) for k, v in trainer.model.state_dict().items())
    # ...and only a run of the same class: the built-in model cannot start from it (the cycle trains from scratch).
    with pytest.raises(ValueError, match=rf"cannot start this run: its weights are a {HERE} model"):
        init_checkpoint(LakeLayout.of(str(lake)), candidate, dataset, TrainConfig().model_spec)
