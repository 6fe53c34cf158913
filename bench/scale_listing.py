"""Scale benchmark: listing a corpus as it grows, local folders of 10^4, 10^5 and 10^6 files and prefixes of 10^4
and 10^5 objects on the S3-API server (moto_server on 127.0.0.1). Each size is listed in a fresh process
(``list_corpus``, what the curate job's ingest stage calls), which reports the time per file and the memory the
listing holds, per file.

    python bench/scale_listing.py [--max-local 1000000] [--max-remote 100000]

Files are empty (a listing reads names, sizes and times, never contents), 1,000 to a folder. Ratios: the
listing's cost per file at the largest size against the smallest (goal: flat, at most 1.5; wall time locally,
the listing process's CPU on the store, whose wall time is mostly the test server's), and the bytes of driver
memory per listed file at the largest (goal: at most 1,000, i.e. 1 GB per million files).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402

PER_FOLDER = 1000

_MEASURE = """
import json, sys, time
from sora_model.lake import storage
from sora_model.lake.listing import ListingConfig, list_corpus

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

storage.exists(sys.argv[1])  # the filesystem client set up before the baseline: the listing's own memory
before = rss_mb()
start, cpu = time.perf_counter(), time.process_time()
listing = list_corpus(sys.argv[1], ListingConfig(timeout_s=7200))
seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"files": len(listing.files), "seconds": seconds, "cpu_s": cpu_s, "held_mb": rss_mb() - before}))
"""
"""Run in a fresh interpreter per size: the memory the listing holds once done (resident set, so Arrow's and the
AWS SDK's allocations count too), above what the process held before it."""


def make_local(root: Path, files: int) -> None:
    for i in range(files):
        folder = root / f"batch-{i // PER_FOLDER:05d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"video_{i:07d}.mp4").touch()


def make_remote(uri: str, start: int, stop: int, threads: int = 16) -> None:
    """Empty objects ``start``..``stop`` under ``uri``, put by ``threads`` requests at a time (one at a time, the
    S3-API server took 17 ms per object)."""
    from concurrent.futures import ThreadPoolExecutor

    from sora_model.lake import storage

    fs, root = storage.filesystem(uri)

    def put(i: int) -> None:
        with fs.open_output_stream(f"{root}/batch-{i // PER_FOLDER:05d}/video_{i:07d}.mp4"):
            pass

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(put, range(start, stop), chunksize=256):
            pass


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(uri: str, env: dict[str, str], server_pid: int | None = None) -> dict:
    server_before = cpu_seconds(server_pid) if server_pid else 0.0
    proc = subprocess.run([sys.executable, "-c", _MEASURE, uri], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=7200)
    if proc.returncode:
        raise RuntimeError(f"listing {uri} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if server_pid:
        out["server_cpu_s"] = cpu_seconds(server_pid) - server_before
    return out


def line(where: str, m: dict) -> str:
    per = 1e6 / m["files"]
    server = f"  S3-API server CPU {m['server_cpu_s'] * per:6.1f} us/file" if "server_cpu_s" in m else ""
    return (f"{where:<8} {m['files']:>9,} files  {m['seconds']:8.2f} s  {m['seconds'] * per:7.1f} us/file "
            f"(listing CPU {m['cpu_s'] * per:6.1f} us/file{server})  held {m['held_mb']:7.1f} MB  "
            f"{m['held_mb'] * 2**20 / m['files']:6.0f} B/file")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--max-local", type=int, default=1_000_000, help="largest local folder (default 10^6)")
    parser.add_argument("--max-remote", type=int, default=100_000, help="largest prefix (default 10^5)")
    args = parser.parse_args()
    from tests import s3_server

    local_sizes = [n for n in (10_000, 100_000, 1_000_000) if n <= args.max_local]
    remote_sizes = [n for n in (10_000, 100_000) if n <= args.max_remote]
    results: dict[str, list[dict]] = {"local": [], "s3": []}
    with tempfile.TemporaryDirectory(prefix="sora-bench-listing-") as name:
        tmp = Path(name)
        env = {**os.environ}
        for n in local_sizes:
            folder = tmp / f"local-{n}"
            start = time.perf_counter()
            make_local(folder, n)
            print(f"made {n:,} files in {time.perf_counter() - start:.0f} s", flush=True)
            results["local"].append(measure(str(folder), env))
            print(line("local", results["local"][-1]), flush=True)
        if remote_sizes:
            (tmp / "s3").mkdir()
            proc, endpoint = s3_server.start(tmp / "s3")
            try:
                env.update(s3_server.environment(endpoint))
                os.environ.update(s3_server.environment(endpoint))
                s3_server.make_bucket(endpoint, "lake")
                made = 0
                for n in remote_sizes:  # one growing prefix: each size adds to the last
                    start = time.perf_counter()
                    make_remote("s3://lake/corpus", made, n)
                    made = n
                    print(f"made {n:,} objects in {time.perf_counter() - start:.0f} s", flush=True)
                    results["s3"].append(measure("s3://lake/corpus", env, proc.pid))
                    print(line("s3", results["s3"][-1]), flush=True)
            finally:
                s3_server.stop(proc)
    print(json.dumps(results))
    for where, runs in results.items():
        if len(runs) < 2:
            continue
        small, large = runs[0], runs[-1]
        # The listing's own cost: wall time for a local walk; for the store, the listing process's CPU (the wall
        # time is mostly the test's S3-API server, whose CPU per object grows with the bucket's size).
        key = "seconds" if where == "local" else "cpu_s"
        per_file = [r[key] / r["files"] for r in (small, large)]
        what = "time" if key == "seconds" else "listing CPU"
        print(f"{where}: {what} per file at {large['files']:,} / at {small['files']:,}: "
              f"{per_file[1] / per_file[0]:.2f}; memory per file at {large['files']:,}: "
              f"{large['held_mb'] * 2**20 / large['files']:.0f} B")
        record(Ratio("scale_listing", f"{where} listing, {what} per file at {large['files']:,} files / at "
                     f"{small['files']:,}", per_file[1] * 1e6, per_file[0] * 1e6, "us/file", goal_max=1.5))
        record(Ratio("scale_listing", f"{where} listing, driver memory per file at {large['files']:,} files / 1 kB",
                     large["held_mb"] * 2**20 / large["files"], 1000, "B/file", goal_max=1.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
