"""A real Spark standalone cluster on 127.0.0.1 for the cluster tests: one master and two workers started with
``bin/spark-class`` from the pip-installed pyspark (which has no sbin scripts), each worker with its own work and
scratch directories, all stopped at the end.

Executors run ``worker_python``: an interpreter that sees the venv's third-party packages (torch, decord, PyAV,
pyarrow: what a cluster image or a packed environment provides) but not the project itself, so the jobs can only
import sora_model from the archive spark-submit ships (``--py-files``).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.s3_server import free_port


@dataclass
class Cluster:
    master_url: str
    master_ui: str
    worker_uis: list[str]
    worker_python: str
    scratch: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    conf_dir: Path | None = None
    """SPARK_CONF_DIR for the drivers submitting to this cluster, when a test writes one."""
    jars_dir: Path | None = None
    """The folder of jars every node has on its class path (``jobs.spark_setup --jars-dir``), when set up."""

    def submit(self, *args: str, archive: Path | None = None) -> list[str]:
        """A spark-submit command line to this cluster: its executors run ``worker_python``, the driver this
        interpreter, and the project is shipped as ``archive`` when given; ``args`` follow (conf, the job)."""
        shipped = ["--py-files", str(archive)] if archive is not None else []
        return [str(Path(sys.executable).parent / "spark-submit"), "--master", self.master_url, *shipped,
                "--conf", f"spark.pyspark.python={self.worker_python}",
                "--conf", f"spark.pyspark.driver.python={sys.executable}", *args]

    def driver_env(self, conf_dir: Path | None = None) -> dict[str, str]:
        """The environment of a driver submitting here (``conf_dir`` or ``self.conf_dir`` as SPARK_CONF_DIR)."""
        conf = conf_dir or self.conf_dir
        return {**os.environ, "PYSPARK_DRIVER_PYTHON": sys.executable,
                **({"SPARK_CONF_DIR": str(conf)} if conf else {})}

    def state(self) -> dict:
        return json.loads(urllib.request.urlopen(f"{self.master_ui}/json", timeout=10).read())

    def worker_state(self, i: int) -> dict:
        return json.loads(urllib.request.urlopen(f"{self.worker_uis[i]}/json", timeout=10).read())


def worker_opts() -> str:
    """SPARK_WORKER_OPTS as docs/cluster.md sets it (worker cleanup), by running its line verbatim."""
    from tests.docs_commands import commands

    line = commands("worker-cleanup")
    return subprocess.run(["bash", "-c", f'{line[0]}\nprintf %s "$SPARK_WORKER_OPTS"'], check=True,
                          capture_output=True, text=True).stdout


def worker_env_python(root: Path) -> str:
    """A fresh venv whose site-packages point at this venv's packages, without the project's editable install
    (a path line in a .pth file adds the folder; the .pth files inside it, like the editable finder, never run)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    py = root / "bin" / "python"
    inner = subprocess.run([str(py), "-c", "import site; print(site.getsitepackages()[0])"], check=True,
                           capture_output=True, text=True).stdout.strip()
    Path(inner, "third_party.pth").write_text(site.getsitepackages()[0] + "\n")
    return str(py)


def _spark_class() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-class")


def wait_for(check, what: str, timeout_s: float = 120) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready within {timeout_s:.0f} s")


def start(scratch: Path, workers: int = 2, env: dict[str, str] | None = None) -> Cluster:
    import pyspark

    base = {**os.environ, **(env or {}), "SPARK_HOME": str(Path(pyspark.__file__).parent),
            "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    base.pop("PYTHONPATH", None)
    port, ui = free_port(), free_port()
    cluster = Cluster(master_url=f"spark://127.0.0.1:{port}", master_ui=f"http://127.0.0.1:{ui}", worker_uis=[],
                      worker_python=worker_env_python(scratch / "worker-env"), scratch=scratch)
    logs = scratch / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    opts = worker_opts()
    try:
        cluster.procs.append(subprocess.Popen(
            [_spark_class(), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(ui)], env=base, stdout=open(logs / "master.log", "wb"), stderr=subprocess.STDOUT))
        wait_for(lambda: cluster.state()["status"] == "ALIVE", "Spark master")
        for i in range(workers):
            work = scratch / f"worker-{i}"
            (work / "local").mkdir(parents=True)
            wui = free_port()
            cluster.worker_uis.append(f"http://127.0.0.1:{wui}")
            cluster.procs.append(subprocess.Popen(
                [_spark_class(), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
                 "--memory", "3g", "--work-dir", str(work / "work"), "--webui-port", str(wui), cluster.master_url],
                env={**base, "SPARK_LOCAL_DIRS": str(work / "local"), "PYSPARK_PYTHON": cluster.worker_python,
                     "SPARK_WORKER_OPTS": opts},
                stdout=open(logs / f"worker-{i}.log", "wb"), stderr=subprocess.STDOUT))
        wait_for(lambda: sum(w["state"] == "ALIVE" for w in cluster.state()["workers"]) == workers, "Spark workers")
    except BaseException:
        stop(cluster)
        raise
    return cluster


def install_jars(cluster: Cluster) -> None:
    """The drivers' Spark settings in a conf folder of the cluster's own, with the jars in a folder every node has
    on its class path (``python -m jobs.spark_setup --jars-dir``, as the README says; the same path on every node
    here); drivers submit with ``SPARK_CONF_DIR=cluster.conf_dir``."""
    cluster.conf_dir, cluster.jars_dir = cluster.scratch / "spark-conf", cluster.scratch / "jars"
    spark_setup(cluster.conf_dir, cluster.jars_dir)


def spark_setup(conf_dir: Path, jars_dir: Path | None = None) -> None:
    """``python -m jobs.spark_setup [--jars-dir jars_dir]`` writing into ``conf_dir`` (SPARK_CONF_DIR)."""
    subprocess.run([sys.executable, "-m", "jobs.spark_setup", *(["--jars-dir", str(jars_dir)] if jars_dir else [])],
                   cwd=Path(__file__).resolve().parents[1], check=True, capture_output=True,
                   env={**os.environ, "SPARK_CONF_DIR": str(conf_dir)})


def kill_worker(cluster: Cluster, i: int) -> None:
    """SIGKILL worker ``i`` and every process under it (its executors and their Python workers), as a machine
    that dies would."""
    import signal

    worker = cluster.procs[1 + i]  # the master is started first
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):  # one pass: the worker's descendants, before any is killed
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    pids, frontier = [], [worker.pid]
    while frontier:
        pid = frontier.pop()
        pids.append(pid)
        frontier.extend(children.get(pid, []))
    for pid in reversed(pids):  # the executors first: they hold the work
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait(timeout=30)


def stop(cluster: Cluster) -> None:
    for proc in reversed(cluster.procs):
        proc.terminate()
    for proc in cluster.procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
