"""Cluster benchmark: bytes each Spark application copies into every executor's work folder, with the jars
named from the Ivy cache (each application ships them) against the jars already on every worker
(``python -m jobs.spark_setup --jars-dir``), on a real standalone cluster (a master and two workers on
127.0.0.1), in the same run.

    python bench/cluster_jars.py

Each route submits the same short application (a curate run over an empty folder: the session starts, every
executor runs the import check, nothing else) and sums the files under that application's folder in each
worker's work directory.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402
from tests import spark_cluster  # noqa: E402



def app_bytes(cluster: spark_cluster.Cluster, app_id: str) -> tuple[int, int]:
    """(bytes of jar files, bytes of all files) under ``app_id``'s folders in the workers' work directories."""
    jars = total = 0
    for work in sorted(cluster.scratch.glob("worker-*/work")):
        for path in (work / app_id).rglob("*"):
            if path.is_file():
                size = path.stat().st_size
                total += size
                jars += size if path.suffix == ".jar" else 0
    return jars, total


def submit(cluster: spark_cluster.Cluster, conf_dir: Path, archive: Path, tmp: Path) -> str:
    """Run the application under ``conf_dir``'s spark-defaults.conf; returns its application id."""
    before = {a["id"] for a in cluster.state()["completedapps"]}
    (tmp / "empty").mkdir(exist_ok=True)
    proc = subprocess.run(
        cluster.submit("--conf", "spark.executor.memory=1g", "jobs/curate.py", f"input_uri={tmp / 'empty'}",
                       f"lake_uri={tmp / 'lake'}", archive=archive),
        cwd=ROOT, env=cluster.driver_env(conf_dir), capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise RuntimeError(f"the application failed:\n{proc.stderr[-3000:]}")
    spark_cluster.wait_for(lambda: {a["id"] for a in cluster.state()["completedapps"]} - before, "the application's end")
    (app,) = {a["id"] for a in cluster.state()["completedapps"]} - before
    return app


def main() -> int:
    from jobs.dist import build

    with tempfile.TemporaryDirectory(prefix="sora-bench-jars-") as name:
        tmp = Path(name)
        archive = build(tmp / "dist" / "sora_model.zip")
        routes = {"jars shipped by each application": (tmp / "conf-shipped", None),
                  "jars on every worker": (tmp / "conf-workers", tmp / "jars")}
        for conf_dir, jars_dir in routes.values():
            spark_cluster.spark_setup(conf_dir, jars_dir)
        cluster = spark_cluster.start(tmp / "cluster", workers=2)
        try:
            measured = {what: app_bytes(cluster, submit(cluster, conf_dir, archive, tmp))
                        for what, (conf_dir, _) in routes.items()}
        finally:
            spark_cluster.stop(cluster)
    for what, (jars, total) in measured.items():
        print(f"{what:<34} {total / 1e6:9.1f} MB copied per application ({jars / 1e6:.1f} MB of jars), "
              "2 executors")
    shipped, on_workers = (measured[w][1] for w in routes)
    print(f"ratio (jars on every worker / shipped by each application): {on_workers / shipped:.4f}")
    record(Ratio("cluster_jars", "bytes into executors' work folders per application, jars on workers / shipped",
                 on_workers / 1e6, shipped / 1e6, "MB", goal_max=0.01))
    return 0


if __name__ == "__main__":
    sys.exit(main())
