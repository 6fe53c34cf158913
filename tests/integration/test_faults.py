"""Faults on the test cluster (a master and two workers on 127.0.0.1): a worker that dies mid-decode changes no
row of the run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sora_model.lake import delta
from tests import spark_cluster
from tests.integration.conftest import TEST_OVERRIDES, add_videos, copy_corpus, differences, lake_rows, run

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = spark_cluster.start(tmp_path_factory.mktemp("fault-cluster"), workers=2)
    spark_cluster.install_jars(c)
    yield c
    spark_cluster.stop(c)



@pytest.mark.slow
def test_a_worker_killed_mid_decode_leaves_the_rows_of_an_undisturbed_run(spark, cluster, corpus: Path,
                                                                        tmp_path: Path):
    from jobs.dist import build

    archive = build(tmp_path / "dist" / "sora_model.zip")
    input_dir = copy_corpus(corpus, tmp_path / "input")
    add_videos(input_dir, "more", 24, seed=31, scratch=tmp_path / "more")  # each decode task has work for a while
    undisturbed = tmp_path / "undisturbed"
    run(spark, input_dir, undisturbed)  # local[2]
    lake = tmp_path / "lake"
    proc = subprocess.Popen(
        [str(BIN / "spark-submit"), "--master", cluster.master_url, "--py-files", str(archive),
         "--conf", f"spark.pyspark.python={cluster.worker_python}", "--conf",
         f"spark.pyspark.driver.python={sys.executable}", "--conf", "spark.executor.memory=1g",
         "--conf", "spark.ui.showConsoleProgress=false",
         # One task per core: each decode task takes several videos, so a worker dies with work in hand.
         "jobs/curate.py", f"input_uri={input_dir}", f"lake_uri={lake}", *TEST_OVERRIDES, "tasks_per_core=1"],
        cwd=ROOT, env={**os.environ, "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_CONF_DIR": str(cluster.conf_dir)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Both decode tasks (one per worker) are writing their first shards: kill worker 1 with its task in hand.
        deadline = time.monotonic() + 300
        while len({p.name.split("-")[1] for p in lake.glob("datasets/demo/v1/*/part-*.parquet")}) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "the decode stage never ran on both workers"
            time.sleep(0.02)
        spark_cluster.kill_worker(cluster, 1)
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-4000:]
    assert [w["state"] for w in cluster.state()["workers"]].count("DEAD") == 1
    # The dead worker's decode task ran again elsewhere: its shards are a second attempt's.
    (version,) = delta.read_rows(str(lake), "datasets")
    assert {Path(uri).name.split("-")[2] for uri in version["shard_uris"]} == {"0", "1"}

    # Every table holds what the same corpus curated undisturbed (on local[2]) holds; which rows share a shard file
    # depends on which tasks ran where, so shards are compared by their rows, not their names.
    got = lake_rows(lake, "demo", input_dir, shard_files=False)
    want = lake_rows(undisturbed, "demo", input_dir, shard_files=False)
    for table in want:
        assert got[table] == want[table], f"{table}: {differences(got[table], want[table])}"
    # Nothing twice: the registered shards hold each kept clip's rows once, and no other shard file is left
    # (the lost attempt's were removed).
    shard_rows = sum(pq.ParquetFile(uri).metadata.num_rows for uri in set(version["shard_uris"]))
    clips = delta.read_rows(str(lake), "clips")
    assert shard_rows == sum(c["rows"] for c in clips) == sum(version["rows_per_split"].values())
    assert len({c["clip_id"] for c in clips}) == len(clips)
    assert sorted(str(p) for p in (lake / "datasets").rglob("*.parquet")) == sorted(set(version["shard_uris"]))
    assert not list(lake.glob("_staging/*"))
