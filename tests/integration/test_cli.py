"""The entry points as a user runs them: spark-submit with the embedded default config, --help, bad config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import TEST_OVERRIDES

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    return {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}


@pytest.mark.slow
def test_spark_submit_runs_the_job_on_a_corpus_with_bad_files(corpus: Path, tmp_path: Path):
    lake = tmp_path / "lake"
    # spark-submit's --master is the user's word: it must beat whatever the YAML or the defaults say.
    secret = "sora-test-secret-on-the-command-line"
    cmd = [str(BIN / "spark-submit"), "--master", "local[1]", "--conf", "spark.sql.shuffle.partitions=3",
           "jobs/curate.py", "--conf-file", "conf/local.yaml", f"input_uri={corpus}", f"lake_uri={lake}",
           "spark.master=local[2]", f"spark.conf.spark.hadoop.fs.s3a.secret.key={secret}", *TEST_OVERRIDES]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # A secret given to the job is in no log line, no file of the lake, no table (Parquet may compress it).
    from sora_model.lake import delta

    assert secret not in proc.stdout + proc.stderr
    assert not [p for p in lake.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    (dataset,) = delta.read_rows(str(lake), "datasets", ["config_yaml"])
    assert "secret.key: <redacted>" in dataset["config_yaml"] and secret not in dataset["config_yaml"]
    assert "dataset 'demo' v1" in proc.stdout and "duplicate_of" in proc.stdout
    (run_dir,) = (lake / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["files_listed"] == summary["videos_clipped"] + summary["files_rejected"]
    assert "input_uri: " + str(corpus) in (run_dir / "config.yaml").read_text()
    assert summary["spark_master"] == "local[1]" and summary["spark_cores"] == 1
    assert "spark               local[1] (1 cores)" in proc.stdout


def test_a_missing_input_is_one_line_before_any_session(tmp_path: Path):
    proc = subprocess.run([sys.executable, "jobs/curate.py", "--conf-file", "conf/local.yaml",
                           f"input_uri={tmp_path / 'nope'}", f"lake_uri={tmp_path / 'lake'}"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and f"input {tmp_path / 'nope'} does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr and "WARN" not in proc.stderr  # no JVM was started
    assert not (tmp_path / "lake").exists()


def test_training_a_dataset_the_lake_lacks_is_one_line_before_any_rank_starts(curated):
    proc = subprocess.run([sys.executable, "jobs/train.py", "--launcher", "spark", "--conf-file",
                           "conf/train/local.yaml", f"lake_uri={curated['lake']}", "dataset=motion-v1"], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "dataset 'motion-v1' is not registered in" in proc.stderr and "(it holds demo)" in proc.stderr
    assert "Traceback" not in proc.stderr and "WARN" not in proc.stderr  # no JVM was started


def test_no_java_is_one_line_that_says_what_to_install(tmp_path: Path):
    env = {**_env(), "PATH": str(BIN), "JAVA_HOME": ""}
    env.pop("JAVA_HOME")
    proc = subprocess.run([sys.executable, "jobs/curate.py", "--conf-file", "conf/local.yaml",
                           f"lake_uri={tmp_path / 'lake'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "Java 17+ is needed" in proc.stderr and "Traceback" not in proc.stderr


def test_help_explains_every_option():
    proc = subprocess.run([sys.executable, "jobs/curate.py", "--help"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for key in ("input_uri", "clip.mode", "decode.frames_per_clip", "augment.copies", "shard.shard_size_mb",
                "split.train_frac", "spark.conf"):
        assert key in proc.stdout


def test_bad_config_exits_2_with_the_reason(tmp_path: Path):
    proc = subprocess.run([sys.executable, "jobs/curate.py", "--conf-file", "conf/local.yaml", "clip.mode=scenes",
                           "--print-config"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "clip" in proc.stderr and "scenes" in proc.stderr


def test_print_config_shows_cli_over_yaml():
    proc = subprocess.run([sys.executable, "jobs/curate.py", "--conf-file", "conf/local.yaml", "--print-config",
                           "decode.height_px=80"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "height_px: 80" in proc.stdout and "mode: shots" in proc.stdout


def test_flag_shorthands_become_overrides_with_cli_precedence():
    from jobs.cli import expand_shorthands

    got = expand_shorthands(["--conf-file", "c.yaml", "--model", "r/3/onnx", "--input=s3://b/x", "batch_size=8"],
                            {"--model": "model", "--input": "input_uri"})
    assert got == ["--conf-file", "c.yaml", "model=r/3/onnx", "input_uri=s3://b/x", "batch_size=8"]


def test_score_print_config_resolves_model_and_input(capsys):
    from jobs.score import main

    assert main(["--conf-file", "conf/score/local.yaml", "--model", "run/2/int8-static", "--input", "/data/new",
                 "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "model: run/2/int8-static" in out and "input_uri: /data/new" in out
