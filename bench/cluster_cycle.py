"""Cluster benchmark: wall time of one update cycle on the test cluster (a master and two 1-core workers on
127.0.0.1, corpus and lake in a real S3-API server) with the candidate trained and its variants built in the
driver (``launch=driver``, what the cycle did before) against on the executors (``launch=executors``: ranks as
barrier tasks through TorchDistributor, one task per variant group), in the same run.

    python bench/cluster_cycle.py [--videos 36]

Each route runs ``conf/cycle/cluster.yaml`` on a lake of its own over the same corpus: curate, train a
candidate, compare, promote and build its variants, score. The ratio is executors / driver; the table also gives
each step's seconds and the driver process's CPU seconds (what the driver's machine spent).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402
from tests import s3_server, spark_cluster  # noqa: E402


def step_seconds(summary: str) -> dict[str, float]:
    """The cycle summary's ``time`` line (``time   curate 15 s, train 76 s, ...``) as step -> seconds."""
    line = next(x for x in summary.splitlines() if re.match(r"^\s+time\s{2,}\S+ \d+ s", x))
    return {m[1]: float(m[2]) for m in re.finditer(r"([\w+]+) (\d+) s", line)}


def cycle(cluster: spark_cluster.Cluster, conf_dir: Path, archive: Path, input_uri: str, lake: str,
          launch: str) -> dict:
    """One cycle; its wall seconds, the driver's CPU seconds and the summary's step seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        cluster.submit("jobs/cycle.py", "--conf-file", "conf/cycle/cluster.yaml", f"input_uri={input_uri}",
                       f"lake_uri={lake}", f"launch={launch}", archive=archive),
        cwd=ROOT, env=cluster.driver_env(conf_dir), capture_output=True, text=True, timeout=3600)
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 3):  # 3: monitoring raised an alert, the cycle ran
        raise RuntimeError(f"the cycle ({launch}) failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    steps = step_seconds(proc.stdout)
    return {"wall_s": wall_s, "driver_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "steps": steps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=36, help="good videos in the corpus (default 36)")
    args = parser.parse_args()
    from jobs.dist import build
    from sora_model.lake import object_store, storage
    from sora_model.video.synth import write_corpus

    with tempfile.TemporaryDirectory(prefix="sora-bench-cycle-") as name:
        tmp = Path(name)
        (tmp / "s3").mkdir()
        proc, endpoint = s3_server.start(tmp / "s3")
        os.environ.update(s3_server.environment(endpoint))
        cluster = None
        try:
            s3_server.make_bucket(endpoint, "lake")
            object_store.apply(object_store.ObjectStoreConfig(endpoint_url=endpoint))
            write_corpus(tmp / "corpus", videos=args.videos, seed=3, workers=2)
            for path in sorted(p for p in (tmp / "corpus").rglob("*") if p.is_file()):
                storage.upload(str(path), f"s3://lake/raw/{path.relative_to(tmp / 'corpus').as_posix()}")
            archive = build(tmp / "dist" / "sora_model.zip")
            conf_dir = tmp / "spark-conf"
            spark_cluster.spark_setup(conf_dir, tmp / "jars")
            cluster = spark_cluster.start(tmp / "cluster", workers=2)
            measured = {launch: cycle(cluster, conf_dir, archive, "s3a://lake/raw", f"s3a://lake/{launch}/lake", launch)
                        for launch in ("driver", "executors")}
        finally:
            if cluster is not None:
                spark_cluster.stop(cluster)
            s3_server.stop(proc)
    for launch, m in measured.items():
        steps = ", ".join(f"{k} {v:.0f} s" for k, v in m["steps"].items())
        print(f"launch={launch:<10} wall {m['wall_s']:6.0f} s  driver CPU {m['driver_cpu_s']:6.0f} s  ({steps})")
    ratio = measured["executors"]["wall_s"] / measured["driver"]["wall_s"]
    print(f"ratio (executors / driver), wall time of one cycle: {ratio:.2f}; driver CPU: "
          f"{measured['executors']['driver_cpu_s'] / measured['driver']['driver_cpu_s']:.2f}")
    print(json.dumps(measured))
    record(Ratio("cluster_cycle", "one cycle's wall time on the test cluster, executors / driver",
                 measured["executors"]["wall_s"], measured["driver"]["wall_s"], "s", goal_max=1.5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
