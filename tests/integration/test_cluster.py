"""The cluster route of docs/cluster.md, every command verbatim, on a real Spark standalone cluster (a master and
two workers on 127.0.0.1 whose Python cannot import the project) with the corpus and the lake in a real S3-API
server: set up the nodes, put a corpus and its labels into the bucket, curate -> train with ranks on the
executors -> ONNX and int8 variants -> score -> the update cycle twice, the second with a new batch of videos.

The commands run in a copy of the checkout (its tracked files, the venv linked), the way a user runs them there
with the venv active; only the master's host, the bucket and the nodes' install folder are the test's own. This
is the slowest module of the suite."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sora_model.lake import object_store, storage
from sora_model.lake.layout import LakeLayout
from tests import spark_cluster
from tests.docs_commands import commands, substitute
from tests.s3_server import CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "route"


@pytest.fixture(scope="module")
def cluster(s3, tmp_path_factory):
    c = spark_cluster.start(tmp_path_factory.mktemp("cluster"), workers=2)
    yield c
    spark_cluster.stop(c)


def _clone(dest: Path) -> Path:
    """The checkout's files (tracked, and new ones git does not ignore) with their times, the venv linked."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    (dest / ".venv").symlink_to(Path(sys.prefix))
    stale = subprocess.run(["make", "-q", ".venv/.installed"], cwd=dest, capture_output=True)
    if stale.returncode != 0:
        pytest.fail("the venv is older than requirements*.txt or pyproject.toml: run `make setup` first (make test "
                    "does)")
    return dest


class Route:
    """Runs the docs' commands in the clone, each in its own shell, and keeps what they printed."""

    def __init__(self, clone: Path, substitutions: dict[str, str], env: dict[str, str]) -> None:
        self.clone, self.substitutions, self.env = clone, substitutions, env
        self.outputs: dict[str, subprocess.CompletedProcess] = {}
        self.seconds: dict[str, float] = {}

    def run(self, block: str, ok: tuple[int, ...] = (0,)) -> list[subprocess.CompletedProcess]:
        """Each command of ``block``; each must exit with a status in ``ok``."""
        done = []
        for i, cmd in enumerate(commands(block, self.substitutions)):
            start = time.perf_counter()
            proc = subprocess.run(["bash", "-c", cmd], cwd=self.clone, env=self.env, capture_output=True, text=True,
                                  timeout=900)
            self.seconds[f"{block}[{i}]"] = time.perf_counter() - start
            assert proc.returncode in ok, f"{cmd}\nexit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
            self.outputs[f"{block}[{i}]"] = proc
            done.append(proc)
        return done


def _applications(event_logs: Path) -> list[tuple[str, int, list[str]]]:
    """(application name, tasks it ran, its jobs' descriptions) of every application, in start order, from
    Spark's event logs."""
    apps = []
    for log in sorted(event_logs.iterdir()):  # app-<start time>-<sequence>
        name, tasks, jobs = log.name, 0, []
        for line in log.read_text().splitlines():
            event = json.loads(line)
            if event["Event"] == "SparkListenerApplicationStart":
                name = event["App Name"]
            elif event["Event"] == "SparkListenerTaskEnd":
                tasks += 1
            elif event["Event"] == "SparkListenerJobStart":
                jobs.append((event.get("Properties") or {}).get("spark.job.description") or "")
        apps.append((name, tasks, jobs))
    return apps


@pytest.mark.slow
def test_the_cluster_route_of_the_docs_runs_verbatim(cluster, s3, tmp_path: Path):
    from deltalake import DeltaTable

    clone = _clone(tmp_path / "checkout")
    scratch = cluster.scratch
    conf_dir, jars_dir, event_logs = scratch / "spark-conf", scratch / "jars", scratch / "events"
    event_logs.mkdir()
    lake = f"s3a://{s3.bucket}/{PREFIX}/lake"
    subs = {"spark://master:7077": cluster.master_url, "/opt/sora_model/jars": str(jars_dir),
            "/opt/sora_model/env/bin/python": cluster.worker_python, "s3a://bucket/": f"s3a://{s3.bucket}/{PREFIX}/"}
    for conf in (clone / "conf").rglob("*.yaml"):  # the bucket named in the conf files is the test's too
        conf.write_text(substitute(conf.read_text(), subs))
    # The driver machine's environment: the venv active, the store's endpoint and credentials (the s3 fixture's),
    # its own Spark conf folder; nothing of make's (PYSPARK_PYTHON) or of the test's interpreter.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_") and k != "VIRTUAL_ENV"}
    env.update(PATH=f"{clone / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", SPARK_CONF_DIR=str(conf_dir),
               VIRTUAL_ENV=str(clone / ".venv"))
    route = Route(clone, subs, env)

    route.run("cluster-setup")
    assert (clone / "dist" / "sora_model.zip").is_file() and (jars_dir / "sora_model-jars.txt").is_file()
    defaults = (conf_dir / "spark-defaults.conf").read_text()
    assert f"spark.pyspark.python {cluster.worker_python}" in defaults
    assert "spark.pyspark.driver.python" in defaults
    # Where the tasks of each application are counted (the environment's Spark conf, not a command line).
    with open(conf_dir / "spark-defaults.conf", "a") as f:
        f.write(f"spark.eventLog.enabled true\nspark.eventLog.dir {event_logs}\nspark.eventLog.compress false\n"
                "spark.eventLog.rolling.enabled false\n")

    corpus = route.run("cluster-corpus")
    assert "copied" in corpus[1].stdout
    assert storage.is_file(f"s3://{s3.bucket}/{PREFIX}/raw/videos/labels.csv")

    # Without the archive the executors cannot import the project: one line with the fix, before any work.
    bare = subprocess.run(["bash", "-c", f"spark-submit --master {cluster.master_url} jobs/curate.py --conf-file "
                           "conf/cluster.yaml"], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert bare.returncode == 2 and "executors cannot import sora_model" in bare.stdout + bare.stderr, \
        bare.stderr[-3000:]
    assert "Traceback" not in bare.stdout + bare.stderr and not storage.exists(lake)

    curate, train, compress, score = route.run("cluster-route")
    assert f"spark               {cluster.master_url} (2 cores)" in curate.stdout
    assert "registered 20 checkpoints of run motion-base" in train.stdout
    # spark-submit passes its Python driver's stderr (the log) on as its own stdout.
    assert "training 2 ranks in barrier tasks on the executors" in train.stdout
    assert re.search(r"scored\s+\d+", score.stdout)

    # A cycle exits with 3 when monitoring its scoring run raised an alert (the docs say so): a few dozen videos
    # scored by a model trained on a few dozen drift easily.
    first, _, upload, second = route.run("cluster-cycle", ok=(0, 3))
    assert "dataset motion v1: PROMOTED" in first.stdout, first.stdout[-3000:]
    assert re.search(r"copied 10 files .* 0 already there", upload.stdout)  # 8 videos, labels.csv, manifest.json
    assert "dataset motion v2:" in second.stdout, second.stdout[-3000:]
    for proc in (first, second):  # the candidate trained and its variants were built on the executors
        assert "training 2 ranks in barrier tasks on the executors" in proc.stdout

    # Every Spark application ran on the executors of both workers.
    apps = cluster.state()["completedapps"]
    assert sorted(a["name"] for a in apps) == sorted(["sora_model"] * 5 + ["sora_model-train"])
    for i in range(2):
        state = cluster.worker_state(i)  # the last app's executor may still be winding down
        ran = {e["appid"] for e in state["finishedexecutors"] + state["executors"]}
        assert {a["id"] for a in apps} <= ran, (i, ran)
    logged = _applications(event_logs)
    print("tasks per application:", [(name, tasks) for name, tasks, _ in logged])
    assert [name for name, *_ in logged] == ["sora_model"] * 2 + ["sora_model-train"] + ["sora_model"] * 3
    # Shuffles follow the input's size: with Spark's 200 per shuffle, curate ran over a thousand tasks.
    assert logged[1][1] < 300, logged[1][:2]
    # The first cycle built its variants in one task per group (ONNX and int8 here) plus one evaluating them,
    # and compared the models in a task.
    assert sum(d.startswith("cycle (") for d in logged[4][2]) == 3, logged[4][2]
    # The jars are on every worker: no application copied any into its executors' work folders.
    shipped = [p for work in scratch.glob("worker-*/work") for p in work.rglob("*.jar")]
    assert not shipped, shipped[:3]
    # Executors could import the project only from the shipped archive: their interpreter has no other copy.
    probe = subprocess.run([cluster.worker_python, "-c", "import sora_model"], cwd=tmp_path, capture_output=True)
    assert probe.returncode != 0 and b"No module named 'sora_model'" in probe.stderr

    # Every table is in the bucket, readable by delta-rs.
    layout = LakeLayout.of(lake)
    opts = object_store.delta_options(lake)
    tables = {name: DeltaTable(layout.table(name), storage_options=opts).to_pyarrow_table()
              for name in ("videos", "rejects", "clips", "datasets", "models", "predictions", "decisions")}
    models = tables["models"].to_pylist()
    assert {"motion-base", "cycle-motion-v1"} <= {m["run_id"] for m in models}
    assert {m["variant"] for m in models if m["run_id"] == "cycle-motion-v1"} >= {"fp32", "onnx", "int8-static"}
    decisions = sorted(tables["decisions"].to_pylist(), key=lambda r: r["dataset_version"])
    assert [(d["dataset"], d["dataset_version"]) for d in decisions] == [("motion", 1), ("motion", 2)]
    assert decisions[0]["action"] == "promoted"
    # The new batch came with its own labels.csv: its videos' clips are labelled.
    batch = {r["video_id"] for r in tables["videos"].to_pylist() if "/batch-2/" in r["uri"]}
    assert len(batch) == 8
    labels = {r["label"] for r in tables["clips"].to_pylist() if r["video_id"] in batch}
    assert labels and -1 not in labels
    assert tables["predictions"].num_rows > 0
    # Credentials reached the jobs through the environment only: not in their output, not in the lake.
    for proc in route.outputs.values():
        assert not any(secret in proc.stdout + proc.stderr for secret in CREDENTIALS.values())
    for path in storage.list_files(f"s3://{s3.bucket}/{PREFIX}/lake"):
        data = storage.read_bytes("s3://" + path)
        assert not any(secret.encode() in data for secret in CREDENTIALS.values()), path
    print("route seconds:", json.dumps({k: round(v) for k, v in route.seconds.items()}))


@pytest.mark.slow
def test_executors_no_worker_can_offer_are_named_while_the_driver_waits(cluster, s3, tmp_path: Path):
    """The test cluster's workers have 3 GB each: an application asking 8 GB per executor never gets one."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_")},
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # the venv active
    cmd = cluster.submit("--conf", "spark.executor.memory=8g", "jobs/curate.py", "--conf-file", "conf/local.yaml",
                         f"input_uri={tmp_path}", f"lake_uri={tmp_path / 'lake'}")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "no executor has started" in line:
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    said = [line for line in lines if "no executor has started" in line]
    assert said, "".join(lines[-40:])
    assert "spark.executor.memory=8g" in said[0] and "--conf spark.executor.memory=" in said[0]
