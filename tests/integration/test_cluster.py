"""The whole chain on a real Spark standalone cluster (a master and two workers on 127.0.0.1) with the corpus and
the lake in a real S3-API server: curate -> train with ranks on the executors -> ONNX and int8 variants ->
score new videos. One test: it is the slowest of the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sora_model.lake import object_store, storage
from sora_model.lake.layout import LakeLayout
from tests import spark_cluster
from tests.integration.conftest import TEST_OVERRIDES
from tests.s3_server import CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
SMALL_MODEL = ["model.widths=[8,16]", "model.embed_dim=16", "model.heads=2", "reader.batch_size=8",
               "num_workers=0", "optim.warmup_steps=2", "epochs=1"]


def _checkout_state() -> list[str]:
    """Untracked and ignored entries of the checkout (bytecode caches and test-tool environments aside)."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True, text=True)
    # The test tools' environments are built at the root by tests that may run at the same time (make test runs
    # two test processes).
    return sorted(line for line in out.stdout.splitlines() if "__pycache__" not in line and "pytest_cache" not in line
                  and ".venv-airflow/" not in line and ".venv-petastorm/" not in line)


@pytest.fixture(scope="module")
def cluster(s3, tmp_path_factory):
    c = spark_cluster.start(tmp_path_factory.mktemp("cluster"), workers=2)
    spark_cluster.install_jars(c)
    yield c
    spark_cluster.stop(c)


def _submit(cluster: spark_cluster.Cluster, archive: Path, job: str, *args: str) -> subprocess.CompletedProcess:
    cmd = cluster.submit("--conf", "spark.executor.memory=2g", "--conf", "spark.ui.showConsoleProgress=false", job,
                         *args, archive=archive)
    proc = subprocess.run(cmd, cwd=ROOT, env=cluster.driver_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{job} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.mark.slow
def test_the_chain_runs_on_the_cluster_with_the_lake_in_the_object_store(cluster, s3, corpus: Path,
                                                                        manifest: dict, tmp_path: Path):
    from deltalake import DeltaTable

    from jobs.dist import build
    from sora_model.video.synth import write_corpus

    repo_before = _checkout_state()
    archive = build(tmp_path / "dist" / "sora_model.zip")
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        storage.upload(str(path), s3.uri("cluster", "raw", path.relative_to(corpus).as_posix()))
    write_corpus(tmp_path / "new", videos=2, seed=23, bad_files=False)
    for path in sorted((tmp_path / "new").rglob("*.mp4")):
        storage.upload(str(path), s3.uri("cluster", "new", path.relative_to(tmp_path / "new").as_posix()))
    lake = s3.uri("cluster", "lake", scheme="s3a")

    # Without the archive the executors cannot import the project: one line with the fix, before any work.
    bare = subprocess.run(cluster.submit("jobs/curate.py", "--conf-file", "conf/local.yaml",
                                         f"input_uri={s3.uri('cluster', 'raw', scheme='s3a')}", f"lake_uri={lake}"),
                          cwd=ROOT, env=cluster.driver_env(), capture_output=True, text=True, timeout=300)
    assert bare.returncode == 2 and "executors cannot import sora_model" in bare.stdout + bare.stderr, bare.stdout[-3000:]
    assert "Traceback" not in bare.stdout + bare.stderr and not storage.exists(lake)

    # Near-duplicates by the LSH join on the executors, the path of corpora too large for the driver's.
    curate = _submit(cluster, archive, "jobs/curate.py", "--conf-file", "conf/local.yaml",
                     f"input_uri={s3.uri('cluster', 'raw', scheme='s3a')}", f"lake_uri={lake}", *TEST_OVERRIDES,
                     "near_dup.driver_max_videos=0")
    assert f"spark               {cluster.master_url} (2 cores)" in curate.stdout
    # Training without the archive says so in one line too (it was a traceback).
    bare = subprocess.run(cluster.submit("jobs/train.py", "--launcher", "spark", "--conf-file",
                                         "conf/train/local.yaml", f"lake_uri={lake}"),
                          cwd=ROOT, env=cluster.driver_env(), capture_output=True, text=True, timeout=300)
    assert bare.returncode == 2 and "executors cannot import sora_model" in bare.stdout + bare.stderr, bare.stdout[-3000:]
    assert "Traceback" not in bare.stdout + bare.stderr
    train = _submit(cluster, archive, "jobs/train.py", "--launcher", "spark", "--num-processes", "2",
                    "--conf-file", "conf/train/local.yaml", f"lake_uri={lake}", "run_id=cluster", *SMALL_MODEL)
    assert "registered 1 checkpoints of run cluster" in train.stdout
    env = {**os.environ, **object_store.ObjectStoreConfig(endpoint_url=s3.endpoint_url).env()}
    compress = subprocess.run(
        [sys.executable, "jobs/compress.py", "--conf-file", "conf/compress/local.yaml", f"lake_uri={lake}",
         "variants=[onnx,int8-dynamic]", "latency_runs=5", "eval_split=val"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=900)
    assert compress.returncode == 0, compress.stderr[-4000:]
    score = _submit(cluster, archive, "jobs/score.py", "--conf-file", "conf/score/local.yaml",
                    "--model", "cluster/1/int8-dynamic", "--input", s3.uri("cluster", "new", scheme="s3a"),
                    f"lake_uri={lake}")
    assert "scored            2" in score.stdout

    # The work ran on the executors of both workers, for every Spark job (curate, train, score).
    apps = cluster.state()["completedapps"]
    assert sorted(a["name"] for a in apps) == ["sora_model"] * 3 + ["sora_model-train"] * 2  # bare runs too
    for i in range(2):
        state = cluster.worker_state(i)  # the last app's executor may still be winding down
        ran = {e["appid"] for e in state["finishedexecutors"] + state["executors"]}
        assert {a["id"] for a in apps} <= ran, (i, ran)
    # The jars are on every worker: no application copied any into its executors' work folders (each copied
    # about 700 MB per executor when the driver shipped them), and one Hadoop client is on the class path.
    shipped = [p for app in apps for work in cluster.scratch.glob("worker-*/work")
               for p in (work / app["id"]).rglob("*.jar")]
    assert not shipped, shipped[:3]
    from pyspark.find_spark_home import _find_spark_home
    clients = [p.name for folder in (Path(_find_spark_home()) / "jars", cluster.jars_dir)
               for p in folder.glob("*hadoop-client-api*.jar")]
    assert len(clients) == 1, clients
    # Executors could import the project only from the shipped archive: their interpreter has no other copy.
    probe = subprocess.run([cluster.worker_python, "-c", "import sora_model"], cwd=tmp_path, capture_output=True)
    assert probe.returncode != 0 and b"No module named 'sora_model'" in probe.stderr

    # Every artifact is in the bucket, readable by delta-rs; nothing was written into the checkout.
    layout = LakeLayout.of(lake)
    opts = object_store.delta_options(lake)
    tables = {name: DeltaTable(layout.table(name), storage_options=opts).to_pyarrow_table()
              for name in ("videos", "rejects", "clips", "datasets", "models", "predictions")}
    models = tables["models"].to_pylist()
    assert {m["variant"] for m in models} == {"fp32", "onnx", "int8-dynamic"}
    assert all(m["uri"].startswith("s3a://lake/cluster/lake/models/cluster/") for m in models)
    assert tables["predictions"].num_rows > 0 and tables["clips"].num_rows > 0
    near = [b["name"] for b in manifest["bad_files"] if b["expected_reason"] == "near_duplicate_of"]
    assert near and tables["rejects"]["reason"].to_pylist().count("near_duplicate_of") == len(near)
    assert storage.is_file(storage.join(layout.training_run("cluster"), "comparison.png"))
    summary = json.loads(storage.read_text(storage.join(layout.uri("runs"), storage.list_dir(layout.uri("runs"))[0],
                                                        "summary.json")))
    assert summary["spark_master"] == cluster.master_url and tables["videos"].num_rows == summary["videos_clipped"]
    assert _checkout_state() == repo_before
    # Credentials reached the jobs through the environment only: not in their output, not in the lake.
    for proc in (curate, train, compress, score):
        assert not any(secret in proc.stdout + proc.stderr for secret in CREDENTIALS.values())
    for path in storage.list_files(s3.uri("cluster", "lake")):
        data = storage.read_bytes("s3://" + path)
        assert not any(secret.encode() in data for secret in CREDENTIALS.values()), path
