"""The cycle's Airflow DAG (scheduling/airflow/sora_cycle.py) run for real by Airflow's ``dag.test()``: twice on a
tiny corpus, the second time with new videos, each run a real spark-submit of the cycle; and the task's mapping
of the cycle's exit statuses.

Airflow 3 runs in its own environment (built once, cached in .venv-airflow at the repository root), with a
sqlite metadata database in a temporary AIRFLOW_HOME; the DAG's folder is its dags folder.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.tables import Tables
from sora_model.video.synth import write_corpus
from tests.integration.conftest import CYCLE_OVERRIDES, add_videos, pinned_env

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_ENV = ROOT / ".venv-airflow"
PINS = ["apache-airflow==3.3.2"]
DAG_FILE = ROOT / "scheduling" / "airflow" / "sora_cycle.py"


def _airflow_python() -> Path:
    return pinned_env(AIRFLOW_ENV, PINS)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory) -> dict[str, str]:
    """The environment of an Airflow installation with its database migrated and the DAG's folder as dags."""
    python = _airflow_python()
    home = tmp_path_factory.mktemp("airflow")
    # As on an Airflow worker: nothing of make's (PYSPARK_PYTHON, PYSPARK_DRIVER_PYTHON) tells spark-submit which
    # Python to use, and PATH has no venv of the project's.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_") and k != "VIRTUAL_ENV"},
           "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv/bin" not in p),
           "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "false", "SORA_HOME": str(ROOT),
           "SORA_SPARK_SUBMIT": str(Path(sys.executable).parent / "spark-submit")}
    subprocess.run([str(python.parent / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True,
                   timeout=300)
    return {**env, "_python": str(python)}


def _dag_test(airflow: dict[str, str], **env: str) -> dict:
    run_env = {k: v for k, v in {**airflow, **env}.items() if not k.startswith("_")}
    proc = subprocess.run([airflow["_python"], str(Path(__file__).with_name("airflow_run.py")), str(DAG_FILE)],
                          env=run_env, capture_output=True, text=True, timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stderr[-4000:]
    return {**json.loads(lines[-1]), "log": proc.stdout + proc.stderr}


@pytest.mark.slow
def test_the_dag_fails_at_once_on_an_alert_and_retries_a_busy_lake(airflow):
    # A stand-in for spark-submit that exits as the cycle would: the DAG's mapping is what is under test here.
    retry = {"SORA_CYCLE_RETRIES": "1", "SORA_CYCLE_RETRY_DELAY_S": "0"}
    alert = _dag_test(airflow, SORA_SPARK_SUBMIT="sh -c 'exit 3' cycle", **retry)
    assert alert["tasks"] == {"cycle": "failed"} and "monitoring raised an alert" in alert["log"]
    assert alert["log"].count("running: sh -c") == 1  # an alert is not retried: the retry would hide it
    busy = _dag_test(airflow, SORA_SPARK_SUBMIT="sh -c 'exit 75' cycle", **retry)
    assert busy["tasks"] == {"cycle": "failed"} and "another run is writing the lake" in busy["log"]
    assert busy["log"].count("running: sh -c") == 2  # retried once, then failed
    assert alert["max_active_runs"] == 1


@pytest.mark.slow
def test_the_dag_runs_the_cycle_on_new_videos_and_the_decisions_are_in_the_lake(spark, airflow, tmp_path: Path):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    write_corpus(inbox, videos=8, seed=51, bad_files=False)
    overrides = [f"input_uri={inbox}", f"lake_uri={lake}", *CYCLE_OVERRIDES, "monitor.min_clips=1000000"]
    env = {"SORA_SPARK_ARGS": "--master local[2]", "SORA_CYCLE_ARGS": shlex.join(overrides)}
    first = _dag_test(airflow, **env)
    assert (first["state"], first["tasks"]) == ("success", {"cycle": "success"}), first["log"][-4000:]
    add_videos(inbox, "batch2", videos=4, seed=52, scratch=tmp_path / "scratch")
    second = _dag_test(airflow, **env)
    assert second["state"] == "success", second["log"][-4000:]
    assert "PROMOTED" in first["log"] and "jobs/cycle.py --conf-file conf/cycle/local.yaml" in first["log"]
    rows = {r["dataset_version"]: r for r in Tables(spark, str(lake)).read("decisions").collect()}
    assert set(rows) == {1, 2}
    assert rows[1]["action"] == "promoted" and rows[1]["reason"] == "no model in use yet"
    assert rows[2]["action"] in ("promoted", "kept") and rows[2]["production_id"] == rows[1]["candidate_id"]
    assert rows[2]["candidate_new"] is not None and rows[2]["production_new"] is not None
