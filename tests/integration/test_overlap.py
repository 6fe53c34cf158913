"""Two curate runs started together on one lake (separate processes, each with its own Spark driver): one holds
the lake's lock, a run told to wait waits and then adds nothing, a run told not to wait stops with status 75 and
the holder's name; the lake counts every video once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.tables import Tables
from sora_model.lake.lock import LOCK_FILE
from sora_model.video.synth import write_corpus
from tests.integration.conftest import TEST_OVERRIDES

ROOT = Path(__file__).resolve().parents[2]


def _curate(input_dir: Path, lake: Path, wait_s: float) -> subprocess.Popen:
    cmd = [sys.executable, "jobs/curate.py", "--conf-file", "conf/local.yaml", f"input_uri={input_dir}",
           f"lake_uri={lake}", *TEST_OVERRIDES, "spark.master=local[1]", f"lock.wait_s={wait_s}"]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_runs_started_together_wait_or_stop_with_the_holders_name_and_never_double_count(spark, tmp_path: Path):
    input_dir, lake = tmp_path / "input", tmp_path / "lake"
    write_corpus(input_dir, videos=4, seed=41, bad_files=False)
    first = _curate(input_dir, lake, wait_s=0)
    deadline = time.monotonic() + 180
    while not (lake / LOCK_FILE).exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.2)
    waiter, quitter = _curate(input_dir, lake, wait_s=600), _curate(input_dir, lake, wait_s=0)
    q_out, q_err = quitter.communicate(timeout=600)
    f_out, f_err = first.communicate(timeout=600)
    w_out, w_err = waiter.communicate(timeout=600)
    assert first.returncode == 0, f_err[-3000:]
    assert quitter.returncode == 75, q_err[-3000:]
    assert "is being written by run" in q_err and "(curate, pid" in q_err and "lock.wait_s" in q_err
    assert waiter.returncode == 0, w_err[-3000:]
    assert "waiting for the lake lock held by run" in w_err
    tables = Tables(spark, str(lake))
    assert tables.read("datasets").count() == 1  # the waiter found nothing new: no second version
    assert tables.read("videos").count() + tables.read("rejects").count() == 4  # each file accounted once
    assert "(unchanged)" in w_out and "already in lake     4" in w_out and not (lake / LOCK_FILE).exists()
