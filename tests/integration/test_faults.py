"""Faults: a worker of the test cluster (a master and two workers on 127.0.0.1) that dies mid-decode changes no
row of the run; the object store unreachable for a few seconds is ridden through, for longer it stops the run in
one line, and a rerun completes it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sora_model.lake import delta, storage
from tests import spark_cluster
from tests.integration.conftest import TEST_OVERRIDES, add_videos, copy_corpus, differences, lake_rows, run
from tests.tcp_proxy import TcpProxy

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
        cluster.submit("--conf", "spark.executor.memory=1g", "--conf", "spark.ui.showConsoleProgress=false",
                       # One task per core: each decode task takes several videos, so a worker dies with work in hand.
                       "jobs/curate.py", f"input_uri={input_dir}", f"lake_uri={lake}", *TEST_OVERRIDES,
                       "tasks_per_core=1", archive=archive),
        cwd=ROOT, env=cluster.driver_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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


# The object store unreachable mid-run: a TCP proxy in front of the S3-API server drops every connection and
# refuses new ones for a while (the server keeps its data). The job runs under spark-submit on local[2], reading
# its corpus from and writing its lake to the bucket through the proxy.

@pytest.fixture(scope="module")
def bucket_corpus(s3, corpus: Path) -> str:
    prefix = s3.uri("outage", "raw", scheme="s3a")
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        storage.upload(str(path), f"{prefix}/{path.relative_to(corpus).as_posix()}")
    return prefix


@pytest.fixture(scope="module")
def undisturbed_rows(spark, s3, bucket_corpus: str) -> dict:
    lake = s3.uri("outage", "undisturbed", scheme="s3a")
    run(spark, bucket_corpus, lake)  # in this process, straight to the store
    return lake_rows(lake, "demo", bucket_corpus, shard_files=False)


@pytest.fixture
def proxy(s3):  # noqa: ANN201 - yields a TcpProxy
    p = TcpProxy(int(s3.endpoint_url.rsplit(":", 1)[1])).start()
    yield p
    p.stop()


def _submit_through(proxy: TcpProxy, bucket_corpus: str, lake: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "AWS_ENDPOINT_URL": proxy.endpoint_url, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "PYSPARK_PYTHON": sys.executable}
    return subprocess.Popen(
        [str(BIN / "spark-submit"), "--master", "local[2]", "--conf", "spark.ui.showConsoleProgress=false",
         "jobs/curate.py", f"input_uri={bucket_corpus}", f"lake_uri={lake}",
         f"object_store.endpoint_url={proxy.endpoint_url}", *TEST_OVERRIDES, *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _when_probing(proc: subprocess.Popen, lake: str) -> None:
    """Return once the run's probe stage has begun (its staging output is being written)."""
    deadline = time.monotonic() + 300
    while not any("/probed" in f for f in storage.list_files(f"{lake}/_staging")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.1)


@pytest.mark.slow
def test_a_short_store_outage_is_ridden_through(s3, proxy, bucket_corpus: str, undisturbed_rows: dict):
    lake = s3.uri("outage", "short", scheme="s3a")
    proc = _submit_through(proxy, bucket_corpus, lake, "object_store.retry_s=30")
    try:
        _when_probing(proc, lake)
        proxy.down()
        time.sleep(4)
        proxy.up()
        out, err = proc.communicate(timeout=900)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-4000:]
    got = lake_rows(lake, "demo", bucket_corpus, shard_files=False)
    for table, want in undisturbed_rows.items():
        assert got[table] == want, f"{table}: {differences(got[table], want)}"


@pytest.mark.slow
def test_a_long_store_outage_stops_the_run_in_one_line_and_a_rerun_completes_it(
        s3, proxy, bucket_corpus: str, undisturbed_rows: dict):
    lake = s3.uri("outage", "long", scheme="s3a")
    proc = _submit_through(proxy, bucket_corpus, lake, "object_store.retry_s=2")
    try:
        _when_probing(proc, lake)
        proxy.down()  # until the run gives up
        out, err = proc.communicate(timeout=900)
    finally:
        proc.kill()
        proxy.up()
    assert proc.returncode == 75, err[-4000:]
    errors = [line for line in (out + err).splitlines() if " ERROR jobs: " in line]
    assert len(errors) == 1 and "could not be reached for longer than object_store.retry_s=2 s" in errors[0]
    assert "run the job again once the store answers" in errors[0]
    # No Python traceback of the job itself. A task that met the outage first may be logged by Spark with its
    # worker's traceback inside a JVM line ("...PythonException: Traceback ..."): which task meets it first,
    # a Python reader or the JVM's s3a writer, is a matter of timing.
    driver = [line for line in (out + err).splitlines() if line.startswith("Traceback")]
    assert not driver, (out + err)[-6000:]
    # The lake reads as before the run (no table was half written), and the rerun takes the lock over at once.
    for table in ("files", "videos", "rejects", "clips", "datasets"):
        delta.read_table(lake, table)
    again = _submit_through(proxy, bucket_corpus, lake)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-4000:]
    got = lake_rows(lake, "demo", bucket_corpus, shard_files=False)
    for table, want in undisturbed_rows.items():
        assert got[table] == want, f"{table}: {differences(got[table], want)}"


@pytest.mark.parametrize("job", [
    ["jobs/curate.py", "--conf-file", "conf/cluster.yaml"],
    ["jobs/cycle.py", "--conf-file", "conf/cycle/cluster.yaml"],
    ["jobs/score.py", "--conf-file", "conf/score/cluster.yaml", "--input", "s3a://bucket/raw/new"],
    ["jobs/train.py", "--launcher", "spark", "--conf-file", "conf/train/cluster.yaml"],
    ["jobs/compress.py", "--conf-file", "conf/compress/cluster.yaml"],
    ["jobs/report.py", "lake_uri=s3a://bucket/lake", "dataset=motion"],
], ids=lambda job: job[0].removeprefix("jobs/"))
def test_a_store_that_does_not_answer_stops_each_job_on_the_driver_in_one_line(job: list[str], tmp_path: Path):
    """Nothing listens on the endpoint: every job says so in one line, with exit status 75 (a scheduler retries),
    before a session or any executor starts. The credentials are the environment's, if any: none are needed
    to find out that nothing answers."""
    from tests.s3_server import free_port

    port = free_port()  # nothing listens there: connections are refused
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run([sys.executable, *job, f"object_store.endpoint_url=http://127.0.0.1:{port}",
                           "object_store.retry_s=1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 75, out[-3000:]
    assert "could not be reached for longer than object_store.retry_s=1 s" in out and "Traceback" not in out
    assert "SparkContext" not in out and "Spark master" not in out  # no session was started
