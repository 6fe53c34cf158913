"""One local[2] Spark session with Delta for the whole integration run, and helpers to run the curate job."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines.curate import CurateConfig, CurateSummary, run_curate
from pipelines.session import SparkConfig, build_session
from pipelines.tables import Tables
from sora_model import config as config_lib
from sora_model.video.synth import write_corpus

# Small frames and short clips keep the suite fast; everything else is the production path.
TEST_OVERRIDES = [
    "clip.mode=shots", "clip.clip_len_s=2.0", "clip.stride_s=2.0", "clip.min_clip_len_s=1.0",
    "decode.frames_per_clip=4", "decode.height_px=32", "decode.width_px=32",
    "augment.copies=1", "augment.hflip_p=0.0", "split.train_frac=0.5", "split.val_frac=0.25",
    "shard.shard_size_mb=1", "shard.row_group_size_mb=0.25", "tasks_per_core=2",
]

CYCLE_OVERRIDES = [
    *(f"curate.{o}" for o in TEST_OVERRIDES), "train.epochs=2", "train.model.widths=[8,16]",
    "train.model.embed_dim=16", "train.model.heads=2", "train.reader.batch_size=8", "train.num_workers=0",
    "train.optim.warmup_steps=2", "compress.variants=[onnx,int8-static]", "compress.latency_runs=5",
    "compress.calibration_clips=16",
    "score.tasks_per_core=1", "score.clip.stride_s=2.0"]
"""The cycle with the test corpus's curate settings and a small, quick model."""


@pytest.fixture(scope="session")
def spark(s3):
    # Started after the S3 server: its JVM and Python workers inherit the store's endpoint and credentials from
    # the environment, as a cluster's executors would.
    session = build_session(SparkConfig(master="local[2]", app_name="sora_model-tests", conf={
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2",
    }))
    yield session
    session.stop()


SMALL = ["model.widths=[8,16]", "model.embed_dim=16", "model.heads=2", "reader.batch_size=8", "num_workers=0",
         "optim.warmup_steps=2"]
"""A small, quick model for the training, compression and scoring tests."""
VARIANTS = ("onnx", "int8-dynamic", "int8-static", "pruned-0.5", "pruned-channels-0.5", "distilled")


@pytest.fixture(scope="session")
def compressed_lake(spark, curated, tmp_path_factory) -> dict:
    """The curated lake with a small model trained (run 'small', 2 epochs) and every variant of its best
    checkpoint registered; tests must not modify it (``copy_lake`` gives one to modify)."""
    from jobs.compress import main
    from pipelines.models import register_checkpoints
    from sora_model.train.loop import TrainConfig, Trainer

    root = Path(__file__).resolve().parents[2]
    lake = tmp_path_factory.mktemp("compress") / "lake"
    shutil.copytree(curated["lake"], lake)
    cfg = config_lib.load(TrainConfig, root / "conf" / "train" / "local.yaml",
                          [f"lake_uri={lake}", "epochs=2", *SMALL])
    Trainer(cfg, "small").fit()
    register_checkpoints(spark, str(lake), "small", config_lib.to_yaml(cfg))
    rc = main(["--conf-file", str(root / "conf" / "compress" / "local.yaml"), f"lake_uri={lake}",
               "finetune.epochs=1", "finetune.batch_size=8", "distill.epochs=1", "distill.batch_size=8",
               "distill.widths=[4,8]", "distill.embed_dim=8", "latency_runs=5", "calibration_clips=16",
               "eval_split=val"])
    assert rc == 0
    return {"lake": lake, "run": lake / "models" / "small"}


def copy_lake(compressed: dict, dst: Path) -> dict:
    """A copy of ``compressed_lake``'s tables to modify; its models rows still name the original's model files,
    which nothing modifies."""
    top = str(compressed["lake"])
    shutil.copytree(top, dst, ignore=lambda folder, names: ["models"] if folder == top else [])
    return {"lake": dst, "run": compressed["run"]}


def checkout_with_lake(spark, compressed: dict, work: Path, variant: str) -> tuple[Path, dict[str, str]]:
    """A folder laid out as the docs' commands expect a checkout (jobs/ and conf/ linked, the lake in ./lake: a
    copy of ``compressed_lake`` whose production alias serves ``variant``), and the environment to run them in
    (the venv's spark-submit on PATH). Returns the lake and the environment."""
    work.mkdir()
    root = Path(__file__).resolve().parents[2]
    for name in ("jobs", "conf"):
        (work / name).symlink_to(root / name)
    lake = copy_lake(compressed, work / "lake")["lake"]
    from pipelines.models import set_alias

    epoch = json.loads((compressed["run"] / "onnx" / "meta.json").read_text())["epoch"]
    set_alias(Tables(spark, str(lake)), "production", f"small/{epoch}/{variant}", "deploy")
    return lake, {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


@pytest.fixture(scope="session")
def curated(spark, corpus: Path, tmp_path_factory) -> dict:
    """The fixture corpus (bad files included) curated once into a fresh lake; tests must not modify it."""
    work = tmp_path_factory.mktemp("curate")
    input_dir = copy_corpus(corpus, work / "input")
    lake = work / "lake"
    summary = run(spark, input_dir, lake)
    return {"input": input_dir, "lake": lake, "summary": summary, "tables": Tables(spark, str(lake))}


def curate_config(input_dir: Path, lake: Path, *extra: str) -> CurateConfig:
    return config_lib.load(CurateConfig, None,
                           [f"input_uri={input_dir}", f"lake_uri={lake}", *TEST_OVERRIDES, *extra])


def run(spark, input_dir: Path, lake: Path, *extra: str) -> CurateSummary:
    return run_curate(spark, curate_config(input_dir, lake, *extra))


def copy_corpus(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def add_videos(input_dir: Path, subdir: str, videos: int, seed: int, scratch: Path) -> list[str]:
    """Synthesize more good videos into input_dir/subdir and append their labels to input_dir/labels.csv."""
    write_corpus(scratch, videos=videos, seed=seed, bad_files=False)
    with open(scratch / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    added = []
    for row in rows:
        target = input_dir / subdir / row["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(scratch / row["path"], target)
        added.append(f"{subdir}/{row['path']}")
    with open(input_dir / "labels.csv", "a", newline="") as f:
        csv.writer(f).writerows([(name, row["label_name"]) for name, row in zip(added, rows)])
    return added


def pinned_env(path: Path, pins: list[str]) -> Path:
    """The Python of a virtual environment at ``path`` holding exactly ``pins`` (a tool that cannot share the
    project's environment), built once and rebuilt when the pins change."""
    python = path / "bin" / "python"
    stamp = path / ".pins"
    if not (python.exists() and stamp.exists() and stamp.read_text() == "\n".join(pins)):
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", "--clear", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True, timeout=900)
        stamp.write_text("\n".join(pins))
    return python


# Columns that name the run, its time or its lake (the same facts otherwise), left out when comparing lakes.
RUN_COLUMNS = {"run_id", "updated_at", "rejected_at", "created_at", "config_yaml", "source_versions", "probed_at"}


def lake_rows(lake: Path, dataset: str, input_dir: Path | None = None,
              shard_files: bool = True) -> dict[str, list[tuple]]:
    """Every table's rows of ``dataset`` (sorted tuples of sorted columns), the run columns left out and the lake's
    and the input's roots spelled <lake> and <input>; shard names lose their per-attempt token, and with
    ``shard_files=False`` name only their split's folder (which rows share a file depends on the task layout)."""
    from sora_model.lake import delta

    roots = {str(lake): "<lake>", **({str(input_dir): "<input>"} if input_dir else {})}
    out = {}
    for table in ("videos", "rejects", "clips", "datasets"):
        column = "name" if table == "datasets" else "dataset"
        rows = [r for r in delta.read_rows(str(lake), table) if r[column] == dataset]
        drop = RUN_COLUMNS | (set() if shard_files else {"shard_uris", "shard_splits"})
        out[table] = sorted((tuple((k, _plain(v, roots, shard_files)) for k, v in sorted(r.items()) if k not in drop)
                             for r in rows), key=repr)
    return out


def _plain(value: Any, roots: dict[str, str], shard_files: bool) -> Any:  # noqa: ANN401
    if isinstance(value, str):
        for root, name in roots.items():
            value = value.replace(root, name)
        # Shard names carry a random token per task attempt (shards.ShardWriter).
        return re.sub(r"part-(\d+-\d+)-[0-9a-f]{10}-\d+\.parquet$", r"part-\1-<attempt>.parquet" if shard_files
                      else "<file>", value)
    if isinstance(value, list):
        return tuple(_plain(v, roots, shard_files) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v, roots, shard_files)) for k, v in value.items()))
    return value


def differences(got: list[tuple], want: list[tuple]) -> str:
    """What differs between two ``lake_rows`` tables, for an assertion message."""
    if len(got) != len(want):
        return f"{len(got)} rows, {len(want)} expected"
    return "; ".join(f"{k}: {a!r} != {b!r}" for g, w in zip(got, want) for (k, a), (_, b) in zip(g, w)
                     if a != b)[:2000]
