"""Training with real torch.distributed: 2 processes on gloo under torchrun, checkpoints in the lake, resume."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.models import register_checkpoints

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).parent / "torchrun"
# The demo's recipe (label-mapped reversals and flips drawn from torch's RNG included), with a smaller model.
DEMO = ["--conf-file", "conf/train/local.yaml"]
SMALL = ["model.widths=[8,16]", "model.embed_dim=32", "model.heads=4", "reader.batch_size=4",
         "optim.warmup_steps=2", "num_workers=1", "log_every_steps=1"]


def _torchrun(lake: Path, *overrides: str, nproc: int = 2, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [str(TORCHRUN), "--standalone", f"--nproc_per_node={nproc}", "jobs/train.py", "--no-register", *DEMO,
           f"lake_uri={lake}", *SMALL, *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _losses(lake: Path, run_id: str) -> dict[int, float]:
    lines = (lake / "models" / run_id / "steps.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines)}


@pytest.fixture(scope="module")
def lake(curated, tmp_path_factory) -> Path:
    """A copy of the curated lake, so training output does not touch the shared fixture."""
    dst = tmp_path_factory.mktemp("train") / "lake"
    shutil.copytree(curated["lake"], dst)
    return dst


def _process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc), parents first."""
    tree, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        tree.append(p)
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in children.read_text().split())
    return tree


def _kill_after_first_checkpoint(lake: Path, run_id: str, *overrides: str) -> None:
    """Start a run and SIGKILL every process of it (torchrun, the ranks, their loader workers) as soon as epoch 1
    is checkpointed, as a node dying would. torchrun starts each rank in a session of its own, so killing
    torchrun's process group alone leaves the ranks running to the end."""
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", "jobs/train.py", "--no-register", *DEMO,
           f"lake_uri={lake}", f"run_id={run_id}", *SMALL, *overrides]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    marker = lake / "models" / run_id / "epoch-1" / "meta.json"
    deadline = time.monotonic() + 240
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in _process_tree(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert marker.exists(), "the run never checkpointed epoch 1"
    time.sleep(1)
    assert not (lake / "models" / run_id / "epoch-2").exists(), "a rank survived the kill"


@pytest.fixture(scope="module")
def full_run(lake: Path) -> Path:
    """An uninterrupted 3-epoch run on 2 processes."""
    proc = _torchrun(lake, "run_id=full", "epochs=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return lake / "models" / "full"


@pytest.mark.slow
def test_killed_run_resumes_with_the_same_losses_and_one_mlflow_run(lake: Path, full_run: Path):
    tracking = f"tracking.mlflow_uri=sqlite:///{lake.parent}/mlflow.db"
    _kill_after_first_checkpoint(lake, "cut", "epochs=3", tracking)
    # A half-written checkpoint must be ignored on resume.
    (lake / "models" / "cut" / ".tmp-epoch-9-deadbeef").mkdir()
    resumed = _torchrun(lake, "run_id=cut", "epochs=3", "resume=true", tracking)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed run cut from epoch-" in resumed.stderr
    a, b = _losses(lake, "full"), _losses(lake, "cut")
    assert sorted(a) == sorted(b) and len(a) >= 6
    for step in a:
        assert b[step] == pytest.approx(a[step], rel=1e-4, abs=1e-5), step  # CPU kernels, same thread count
    assert [p.name for p in sorted((lake / "models" / "cut").glob("epoch-*"))] == ["epoch-1", "epoch-2", "epoch-3"]
    assert "val accuracy" in resumed.stdout

    # MLflow (rank 0): the resumed run continued the killed run's MLflow run, with every step and epoch once.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking.split("=", 1)[1])
    (run,) = client.search_runs([client.get_experiment_by_name("sora_model").experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["sora.run"] == "train/cut"
    assert run.data.params["epochs"] == "3" and run.data.params["world_size"] == "2"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val.accuracy")] == [1, 2, 3]
    logged = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "loss")}
    assert logged == pytest.approx(b)
    assert run.data.tags["checkpoint.epoch-3"] == str(lake / "models" / "cut" / "epoch-3")


def test_a_warm_start_begins_from_the_checkpoint_weights_and_shape(lake: Path, full_run: Path):
    import torch

    from sora_model import config as config_lib
    from sora_model.train.loop import TrainConfig, Trainer

    # Another model shape in the config: the checkpoint's own shape wins, so its weights fit.
    cfg = config_lib.load(TrainConfig, ROOT / "conf" / "train" / "local.yaml",
                          [f"lake_uri={lake}", "init_from=full/2", "model.widths=[4,4]", "epochs=1"])
    trainer = Trainer(cfg, "warm")
    expected = torch.load(full_run / "epoch-2" / "model.pt", weights_only=True)
    got = trainer.model.state_dict()
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in expected)
    assert trainer.step == 0  # the optimizer, schedule and step count start fresh
    for bad, why in (("full/9", "no complete checkpoint"), ("nonsense", "neither a checkpoint directory")):
        with pytest.raises(ValueError, match=why):
            Trainer(config_lib.load(TrainConfig, None, [f"lake_uri={lake}", f"init_from={bad}"]), "warm")


@pytest.mark.slow
def test_checkpoints_load_with_weights_only_and_register_in_delta(spark, lake: Path, full_run: Path):
    import torch

    from pipelines.tables import Tables

    for ckpt in sorted(full_run.glob("epoch-*")):
        state = torch.load(ckpt / "model.pt", weights_only=True)
        assert any(k.startswith("frame_cnn") for k in state)
        torch.load(ckpt / "train_state.pt", weights_only=True)
    assert register_checkpoints(None, str(lake), "full", "x: 1\n") == 3  # no JVM: delta-rs
    assert register_checkpoints(spark, str(lake), "full", "x: 1\n") == 3  # MERGE: no duplicates
    rows = Tables(spark, str(lake)).read("models").where("run_id = 'full'").collect()
    assert sorted(r["epoch"] for r in rows) == [1, 2, 3]
    assert all(r["variant"] == "fp32" and r["dataset"] == "demo" and r["sha256"] for r in rows)


@pytest.mark.slow
def test_corrupt_shard_is_named_not_hung(spark, tmp_path: Path):
    from sora_model.video.synth import write_corpus
    from tests.integration.conftest import run

    write_corpus(tmp_path / "input", videos=6, seed=31, bad_files=False)
    run(spark, tmp_path / "input", tmp_path / "lake")
    shard = sorted((tmp_path / "lake" / "datasets" / "demo" / "v1" / "train").glob("*.parquet"))[-1]
    shard.write_bytes(b"PAR1 garbage")
    proc = _torchrun(tmp_path / "lake", "run_id=bad", "epochs=1", timeout=180)
    assert proc.returncode != 0
    assert shard.name in proc.stderr and "not a readable Parquet" in proc.stderr


@pytest.mark.slow
def test_spark_launcher_trains_through_torch_distributor(spark, lake: Path, capsys):
    from jobs.train import main

    # In-process, so TorchDistributor finds this session (local master: the ranks run on the driver).
    rc = main(["--launcher", "spark", "--num-processes", "2", "--no-register", *DEMO, f"lake_uri={lake}",
               "run_id=via-spark", *SMALL, "epochs=1"])
    assert rc == 0
    meta = json.loads((lake / "models" / "via-spark" / "epoch-1" / "meta.json").read_text())
    assert meta["epoch"] == 1 and meta["metrics"]["val"]["samples"] > 0
    assert "run via-spark: epoch 1 val accuracy" in capsys.readouterr().out
