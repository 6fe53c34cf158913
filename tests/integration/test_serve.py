"""The online service (jobs/serve.py) as a user starts it, over real HTTP on 127.0.0.1: scoring, the token,
bad input as 4xx, a model swap with no failed request, fuzzed bodies, served predictions into the lake."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from pipelines.models import set_alias
from pipelines.tables import Tables
from sora_model.lake import delta
from sora_model.video.synth import write_corpus
from tests.integration.conftest import checkout_with_lake, copy_lake

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-" + "x" * 24


def _wait_gone(group: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(group, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int, token: str | None = TOKEN) -> None:
        self.port, self.token = port, token

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                token: str | None = "default") -> tuple[int, dict | str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        token = self.token if token == "default" else token
        sent = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read().decode()
        finally:
            conn.close()
        kind = response.getheader("content-type", "")
        return response.status, json.loads(data) if kind.startswith("application/json") else data

    def score(self, video: bytes, **kw) -> tuple[int, dict]:  # noqa: ANN003
        return self.request("POST", "/v1/score", video, {"Content-Type": "application/octet-stream"}, **kw)

    def score_uri(self, uri: str) -> tuple[int, dict]:
        return self.request("POST", "/v1/score", json.dumps({"uri": uri}).encode(),
                            {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    import av

    root = tmp_path_factory.mktemp("serve-videos")
    write_corpus(root, videos=6, seed=23, bad_files=False)
    durations = {}
    for v in sorted(root.rglob("*.mp4")):
        with av.open(str(v)) as c:
            durations[v] = float(c.duration or 0) / 1e6
    ordered = sorted(durations, key=durations.get)
    return {"short": ordered[0], "other": ordered[1], "long": ordered[-1], "durations": durations}


@pytest.fixture(scope="module")
def service(spark, compressed_lake, videos, tmp_path_factory):  # noqa: ANN201
    """The service on the documented conf, started as a user starts it (its port, lake and quick test settings
    aside), with the production alias on the ONNX variant."""
    lake = copy_lake(compressed_lake, tmp_path_factory.mktemp("serve") / "lake")["lake"]
    tables = Tables(spark, str(lake))
    epoch = json.loads((compressed_lake["run"] / "onnx" / "meta.json").read_text())["epoch"]
    set_alias(tables, "production", f"small/{epoch}/onnx", "first deploy")
    port = free_port()
    max_video_s = (videos["durations"][videos["other"]] + videos["durations"][videos["long"]]) / 2
    env = {**os.environ, "SORA_SERVE_TOKEN": TOKEN}
    job = subprocess.Popen(
        [sys.executable, "jobs/serve.py", "--conf-file", "conf/serve/local.yaml", f"lake_uri={lake}", f"port={port}",
         "alias_poll_s=0.3", "record_every_s=0.5", "monitor_window_s=8", f"max_video_s={max_video_s:.3f}",
         "max_body_mb=2", "clip.stride_s=2.0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client = Client(port)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and job.poll() is None:
        try:
            if client.request("GET", "/readyz", token=None)[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    if job.poll() is not None:
        pytest.fail(f"the service did not start:\n{job.stdout.read()}")
    yield {"client": client, "lake": lake, "tables": tables, "epoch": epoch, "job": job}
    job.send_signal(signal.SIGTERM)
    out = job.communicate(timeout=120)[0]
    assert job.returncode == 0, out


def test_a_posted_video_gets_its_class_and_the_model_and_alias_entry_that_served_it(service, videos):
    client, epoch = service["client"], service["epoch"]
    status, body = client.score(videos["short"].read_bytes())
    assert status == 200, body
    assert body["label"] in body["probabilities"] and body["clips"] >= 1
    assert body["confidence"] == pytest.approx(max(body["probabilities"].values()))
    assert (body["model_id"], body["alias"], body["alias_seq"]) == (f"small/{epoch}/onnx", "production", 1)
    # The same video by its URI in the lake: the same answer.
    landed = service["lake"] / "incoming" / "short.mp4"
    landed.parent.mkdir(exist_ok=True)
    shutil.copyfile(videos["short"], landed)
    status, by_uri = client.score_uri(str(landed))
    assert status == 200 and by_uri["video_id"] == body["video_id"] and by_uri["label"] == body["label"]
    assert client.score_uri(str(videos["short"]))[0] == 403  # outside the lake
    assert client.score_uri(f"{service['lake']}/incoming/../../{videos['short'].name}")[0] == 403
    assert client.score_uri(str(service["lake"] / "incoming" / "missing.mp4"))[0] == 404


def test_every_scoring_and_metrics_request_without_the_token_gets_401(service, videos):
    client = service["client"]
    video = videos["short"].read_bytes()
    for token in (None, "wrong-token-" + "y" * 24, TOKEN[:-1]):
        status, body = client.score(video, token=token)
        assert (status, body["error"]) == (401, "unauthorized")
        assert client.request("GET", "/metrics", token=token)[0] == 401
    assert client.request("POST", "/v1/score", video, {"Authorization": f"Basic {TOKEN}"}, token=None)[0] == 401
    assert client.request("GET", "/healthz", token=None)[0] == 200


def test_bad_input_gets_a_4xx_with_its_reason_never_a_5xx(service, videos):
    client = service["client"]
    good = videos["short"].read_bytes()
    cases = {
        "random bytes": (os.urandom(50_000), 422, "not_video"),
        "truncated": (good[:3000], 422, "unreadable"),
        "empty": (b"", 422, "empty_file"),
        "text": (b"hello, this is not a video\n" * 100, 422, "not_video"),
        "too long": (videos["long"].read_bytes(), 422, "too_long"),
    }
    for name, (body, want, reason) in cases.items():
        status, answer = client.score(body)
        assert (status, answer["error"]) == (want, reason), name
    status, answer = client.score(os.urandom(3 << 20))
    assert (status, answer["error"]) == (413, "too_large")
    status, answer = client.request("POST", "/v1/score", b"{not json", {"Content-Type": "application/json"})
    assert (status, answer["error"]) == (400, "bad_request")
    assert client.score(good)[0] == 200  # and it still serves


def test_fuzzed_bodies_get_answers_below_500_and_the_service_stays_up(service, videos):
    client = service["client"]
    rng = random.Random(7)
    good = videos["other"].read_bytes()
    bodies = [os.urandom(rng.randrange(0, 200_000)) for _ in range(6)]
    bodies += [good[:rng.randrange(0, len(good))] for _ in range(6)]
    for _ in range(6):  # bytes flipped inside a real file
        flipped = bytearray(good)
        for _ in range(rng.randrange(1, 40)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        bodies.append(bytes(flipped))
    statuses = Counter()
    for body in bodies:
        status, answer = client.score(body)
        assert status < 500, answer
        statuses[status] += 1
    # A body sent in chunks with no length, past the cap: refused while it is read.
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=60)
    conn.request("POST", "/v1/score", body=(b"\0" * 65536 for _ in range(64)), encode_chunked=True,
                 headers={"Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"})
    assert conn.getresponse().status == 413
    conn.close()
    assert client.request("GET", "/healthz", token=None)[0] == 200 and client.score(good)[0] == 200
    assert statuses[422] >= 12, statuses


def test_an_alias_change_swaps_the_model_with_no_failed_request(service, videos):
    client, epoch = service["client"], service["epoch"]
    video = videos["short"].read_bytes()
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            status, body = client.score(video)
            answers.append((status, body.get("model_id") if isinstance(body, dict) else body))

    clients = [threading.Thread(target=keep_asking) for _ in range(2)]
    for c in clients:
        c.start()
    try:
        time.sleep(1.0)
        set_alias(service["tables"], "production", f"small/{epoch}/int8-static", "smaller, as accurate")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(m == f"small/{epoch}/int8-static" for _, m in answers[-4:]):
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        stop.set()
        for c in clients:
            c.join(120)
    assert {s for s, _ in answers} == {200}, Counter(answers)
    models = [m for _, m in answers]
    assert models[0] == f"small/{epoch}/onnx" and models[-1] == f"small/{epoch}/int8-static"
    status, metrics = client.request("GET", "/metrics")
    assert status == 200 and "sora_serve_model_swaps_total 1" in metrics
    assert f'sora_serve_model_info{{model_id="small/{epoch}/int8-static",alias="production",alias_seq="2"}} 1' \
        in metrics


def test_served_predictions_reach_the_lake_and_the_monitoring_job(spark, service, videos):
    from pipelines.monitor import MonitorJobConfig, run_monitor
    from sora_model import config as config_lib

    client, lake = service["client"], service["lake"]
    status, body = client.score(videos["other"].read_bytes())
    assert status == 200

    def recorded() -> list[dict]:
        return [r for r in delta.read_rows(str(lake), "predictions", ["video_id", "model_id", "run_id"])
                if (r["video_id"], r["model_id"]) == (body["video_id"], body["model_id"])]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(recorded()) < body["clips"]:
        time.sleep(0.2)
    rows = recorded()
    assert len(rows) == body["clips"] and {r["model_id"] for r in rows} == {body["model_id"]}
    windows = {b["run_id"]: b["window_end"] for b in delta.read_rows(str(lake), "stream_batches")
               if b["stream"] == "serve-serve"}
    assert rows[0]["run_id"] in windows
    time.sleep(max(0.0, windows[rows[0]["run_id"]].timestamp() - time.time()) + 0.1)
    run_monitor(spark, config_lib.load(MonitorJobConfig, None, [f"lake_uri={lake}"]))
    monitored = {r["score_run_id"] for r in delta.read_rows(str(lake), "monitoring", ["score_run_id"])}
    assert rows[0]["run_id"] in monitored
    status, metrics = client.request("GET", "/metrics")
    assert 'sora_serve_requests_total{route="/v1/score",status="200"}' in metrics
    assert "sora_serve_predictions_recorded_total" in metrics


def test_the_documented_commands_start_the_service_and_score_a_demo_video(spark, compressed_lake, videos, tmp_path):
    from tests.docs_commands import commands

    work = tmp_path / "work"
    lake, env = checkout_with_lake(spark, compressed_lake, work, "int8-static")
    epoch = json.loads((compressed_lake["run"] / "onnx" / "meta.json").read_text())["epoch"]
    demo = lake / "raw" / "demo" / "part-0" / "clip_0000.mp4"
    demo.parent.mkdir(parents=True)
    shutil.copyfile(videos["short"], demo)
    env.pop("SORA_SERVE_TOKEN", None)
    out, err = tmp_path / "stdout", tmp_path / "stderr"  # files: the service left running keeps them open
    with open(out, "w") as stdout, open(err, "w") as stderr:
        script = subprocess.Popen(["bash", "-c", "\n".join(commands("serve"))], cwd=work, env=env,
                                  start_new_session=True, stdout=stdout, stderr=stderr)
        try:
            script.wait(timeout=300)
        finally:
            os.killpg(script.pid, signal.SIGTERM)  # the service the block left running
            _wait_gone(script.pid)
    assert script.returncode == 0, err.read_text()[-3000:]
    answer = json.loads(out.read_text())
    assert (answer["model_id"], answer["alias"], answer["alias_seq"]) == (f"small/{epoch}/int8-static", "production", 1)
    assert answer["clips"] >= 1 and answer["label"] in answer["probabilities"]
