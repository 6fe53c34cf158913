"""Online service load test: throughput and latency of ``jobs/serve.py`` on 127.0.0.1 under concurrent clients,
against scoring the same videos in-process, with errors counted and the service's memory before and after.

    python bench/serve.py [--requests 120] [--clients 4] [--videos 8]

The service runs as a user starts it (conf/serve/local.yaml, 127.0.0.1, a token), serving the demo model's
architecture (random weights, ONNX: speed does not depend on them) with its default concurrency; clients POST
synthetic demo videos (bytes) in turn, a bounded number of requests in all. Baseline: the same videos scored one
after another in this process by ``deploy.scoring.score_video`` (one thread, no HTTP). Memory: the service's
resident memory (its /metrics) after a warm-up round and its first write to the lake, after half the load and
after all of it: flat means the second half adds nothing (the ratio of the last two stays near 1).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402
from bench.stream_score import in_process_s, write_model  # noqa: E402

TOKEN = "bench-" + os.urandom(16).hex()


def _post(port: int, body: bytes) -> tuple[int, float]:
    began = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("POST", "/v1/score", body=body, headers={"Authorization": f"Bearer {TOKEN}",
                                                              "Content-Type": "application/octet-stream"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - began
    finally:
        conn.close()


def _metric(port: int, name: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    text = conn.getresponse().read().decode()
    conn.close()
    return int(re.search(rf"^{name} (\d+)", text, re.M).group(1))


def _rss(port: int) -> int:
    return _metric(port, "process_resident_memory_bytes")


def main() -> int:  # noqa: PLR0915
    import numpy as np

    from sora_model import config as config_lib
    from sora_model.serve.config import ServeConfig
    from sora_model.video.synth import write_corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=800, help="requests in all (after the warm-up round)")
    parser.add_argument("--clients", type=int, default=4, help="clients sending at once")
    parser.add_argument("--videos", type=int, default=8, help="distinct videos the clients send in turn")
    parser.add_argument("--no-record", action="store_true", help="the service does not write what it served to the lake")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        write_corpus(work / "corpus", videos=args.videos, seed=13, bad_files=False)
        videos = sorted((work / "corpus").rglob("*.mp4"))
        bodies = [v.read_bytes() for v in videos]
        model = write_model(work / "model")
        cfg = config_lib.load(ServeConfig, ROOT / "conf" / "serve" / "local.yaml")
        per_video_s = in_process_s(videos, model, cfg, cfg.threads_per_request)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        job = subprocess.Popen(
            [sys.executable, "jobs/serve.py", "--conf-file", "conf/serve/local.yaml", "--log-level=WARNING",
             f"model={model}", f"lake_uri={work / 'lake'}", f"port={port}", f"record={not args.no_record}"],
            cwd=ROOT, env={**os.environ, "SORA_SERVE_TOKEN": TOKEN}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", "/readyz")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    if time.monotonic() > deadline or job.poll() is not None:
                        raise SystemExit(f"the service did not start:\n{job.stdout.read() if job.poll() else ''}")
                    time.sleep(0.2)
            for body in bodies:  # warm-up: every decoding process started, every code path run once
                _post(port, body)
            while not args.no_record and _metric(port, "sora_serve_predictions_recorded_total") == 0:
                time.sleep(0.5)  # and the first write to the lake done (delta-rs's runtime: about 150 MB, once)
            rss_before = _rss(port)
            results: list[tuple[int, float]] = []
            guard = threading.Lock()

            def load(requests: range) -> float:
                counter = iter(requests)

                def client() -> None:
                    for i in counter:  # shared: the clients take requests until all are sent
                        got = _post(port, bodies[i % len(bodies)])
                        with guard:
                            results.append(got)

                threads = [threading.Thread(target=client) for _ in range(args.clients)]
                began = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                return time.perf_counter() - began

            half = args.requests // 2
            wall = load(range(half))
            rss_mid = _rss(port)
            wall += load(range(half, args.requests))
            rss_after = _rss(port)
        finally:
            job.terminate()
            job.wait(120)
    latency = np.array([s for _, s in results])
    errors = sum(1 for status, _ in results if status != 200)
    rate = len(results) / wall
    print(f"{len(results)} requests from {args.clients} clients in {wall:.1f} s: {rate:.2f} videos/s, "
          f"latency p50 {np.percentile(latency, 50) * 1000:.0f} ms, p99 {np.percentile(latency, 99) * 1000:.0f} ms, "
          f"{errors} errors; service memory {rss_before / 2**20:.0f} MB after warm-up, {rss_mid / 2**20:.0f} MB "
          f"after half the load, {rss_after / 2**20:.0f} MB after all of it; in-process {1 / per_video_s:.2f} "
          f"videos/s (one thread)")
    print(f"ratio service videos/s / in-process: {rate * per_video_s:.2f}; memory after all / after half the "
          f"load: {rss_after / rss_mid:.3f}")
    record(Ratio("serve", f"online service: videos/s with {args.clients} clients, over in-process scoring "
                          f"({errors} errors)", rate, 1 / per_video_s, "videos/s"))
    record(Ratio("serve", "online service: resident memory after the whole load, over after half of it",
                 rss_after / 2**20, rss_mid / 2**20, "MB", goal_max=1.1))
    record(Ratio("serve", "online service: latency p99 over p50", float(np.percentile(latency, 99)),
                 float(np.percentile(latency, 50)), "s"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
