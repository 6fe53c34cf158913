"""Streaming scoring (Spark Structured Streaming over a landing folder) into a lake with a trained, compressed
model: exactly-once predictions across a SIGKILL and restart, promotions picked up between micro-batches."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipelines.models import set_alias
from pipelines.monitor import MonitorJobConfig, run_monitor
from pipelines.stream_score import StreamScoreConfig, run_stream
from pipelines.tables import Tables
from sora_model import config as config_lib
from sora_model.lake import delta
from sora_model.lake.tables import SCORING_REJECTS
from sora_model.video.synth import write_corpus
from tests.docs_commands import commands
from tests.integration.conftest import checkout_with_lake, copy_lake

ROOT = Path(__file__).resolve().parents[2]
STREAM = ["clip.mode=shots", "clip.stride_s=2.0", "tasks_per_core=1", "trigger_interval_s=0.5"]


@pytest.fixture(scope="module")
def arrivals(tmp_path_factory) -> list[Path]:
    """Five good videos and a truncated one, to land one by one."""
    root = tmp_path_factory.mktemp("arrivals")
    write_corpus(root, videos=5, seed=91, bad_files=False)
    videos = sorted(root.rglob("*.mp4"))
    (root / "truncated.mp4").write_bytes(videos[0].read_bytes()[:3000])
    return [*videos, root / "truncated.mp4"]


def land(src: Path, landing: Path, name: str | None = None) -> Path:
    """Land a file whole, as an uploader should: written under a hidden name, then renamed in."""
    landing.mkdir(parents=True, exist_ok=True)
    final = landing / (name or src.name)
    partial = landing / f".{final.name}.partial"
    shutil.copyfile(src, partial)
    os.replace(partial, final)
    return final


def wait_for(what: str, done, timeout_s: float = 240.0, every_s: float = 0.2):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = done()
        if got:
            return got
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def predictions(lake: Path) -> list[dict]:
    return delta.read_rows(str(lake), "predictions", ["clip_id", "uri", "model_id", "alias_seq", "run_id"])


def batches(lake: Path) -> list[dict]:
    return delta.read_rows(str(lake), "stream_batches")


def scored_uris(lake: Path) -> set[str]:
    return {r["uri"] for r in predictions(lake)}


def committed_uris(lake: Path) -> set[str]:
    """The files of the micro-batches that have finished (every row written)."""
    return {u for b in batches(lake) if b["committed_at"] is not None for u in b["uris"]}


def test_stream_scores_each_landing_once_and_picks_up_a_promotion_between_micro_batches(
        spark, compressed_lake, arrivals, tmp_path):
    lake = copy_lake(compressed_lake, tmp_path / "lake")["lake"]
    landing = tmp_path / "landing"
    landing.mkdir()
    tables = Tables(spark, str(lake))
    epoch = json.loads((compressed_lake["run"] / "onnx" / "meta.json").read_text())["epoch"]
    set_alias(tables, "production", f"small/{epoch}/onnx", "first deploy")
    cfg = config_lib.load(StreamScoreConfig, None, [f"input_uri={landing}", f"lake_uri={lake}", *STREAM,
                                                    "monitor_window_s=15"])
    stop = threading.Event()
    result: dict = {}
    def run() -> None:
        try:
            result["summary"] = run_stream(spark, cfg, stop)
        except BaseException as e:  # shown by the assertion below
            result["error"] = e

    runner = threading.Thread(target=run)
    runner.start()
    try:
        (arrivals[0].parent / "empty.mp4").write_bytes(b"")  # Spark's file scan leaves empty files out
        first = [land(arrivals[0], landing, "cam-a.mp4"), land(arrivals[-1], landing, "broken.mp4"),
                 land(arrivals[0].parent / "empty.mp4", landing, "cam a%20 #1.mp4")]
        (landing / "labels.csv").write_text("path,label_name\n")  # on the ignore list: never scored
        wait_for("the first landings scored", lambda: {str(f) for f in first} <= committed_uris(lake))
        set_alias(tables, "production", f"small/{epoch}/int8-static", "smaller, as accurate")
        later = land(arrivals[1], landing, "cam-b.mp4")
        wait_for("the landing after the promotion scored", lambda: str(later) in committed_uris(lake))
    finally:
        stop.set()
        runner.join(timeout=120)
    assert "error" not in result, result.get("error")
    summary = result["summary"]

    rows = predictions(lake)
    by_uri = {u: {(r["model_id"], r["alias_seq"]) for r in rows if r["uri"] == u} for u in scored_uris(lake)}
    assert by_uri == {str(first[0]): {(f"small/{epoch}/onnx", 1)}, str(later): {(f"small/{epoch}/int8-static", 2)}}
    assert max(Counter(r["clip_id"] for r in rows).values()) == 1
    rejects = [r for r in delta.read_rows(str(lake), "rejects", ["dataset", "uri", "reason"])
               if r["dataset"] == SCORING_REJECTS]
    assert sorted((r["dataset"], r["uri"], r["reason"]) for r in rejects) == sorted([
        (SCORING_REJECTS, str(first[1]), "unreadable"), (SCORING_REJECTS, str(first[2]), "empty_file")])
    assert all(b["committed_at"] is not None for b in batches(lake))
    assert (summary.files, summary.scored_videos, summary.rejected, summary.ignored) == (4, 2, 2, 1)
    assert summary.predictions == len(rows) and len(summary.latency_s) == 4

    # A monitoring row per closed window with predictions, as per batch scoring run; none for a window still open,
    # whose predictions the monitoring job leaves alone too.
    windows = {}
    for b in batches(lake):
        windows[b["run_id"]] = (b["window_end"], windows.get(b["run_id"], (0, 0))[1] + b["predictions"])
    before = datetime.now(timezone.utc)
    run_monitor(spark, config_lib.load(MonitorJobConfig, None, [f"lake_uri={lake}"]))
    after = datetime.now(timezone.utc)
    monitored = {r["score_run_id"] for r in delta.read_rows(str(lake), "monitoring", ["score_run_id"])}
    assert {w for w, (end, n) in windows.items() if end <= before and n} <= monitored
    assert monitored <= {w for w, (end, n) in windows.items() if end <= after and n}
    assert set(summary.windows_monitored) <= monitored
    time.sleep(max(0.0, max(end for end, _ in windows.values()).timestamp() - time.time()))

    # The same stream again, scheduled style: what landed is already scored, so it adds nothing, and every
    # window has closed, so each one with predictions has its monitoring row.
    again = run_stream(spark, config_lib.load(StreamScoreConfig, None, [
        f"input_uri={landing}", f"lake_uri={lake}", *STREAM, "available_now=true", "monitor_window_s=15"]))
    assert (again.batches, again.files) == (0, 0) and len(predictions(lake)) == len(rows)
    monitored = {r["score_run_id"]: r for r in delta.read_rows(str(lake), "monitoring", ["score_run_id", "clips"])}
    assert set(monitored) == {w for w, (_, n) in windows.items() if n}
    assert sum(r["clips"] for r in monitored.values()) == len(rows)


@pytest.mark.slow
def test_a_stream_killed_mid_batch_resumes_with_no_lost_or_duplicated_prediction(
        spark, compressed_lake, arrivals, tmp_path):
    lake = copy_lake(compressed_lake, tmp_path / "lake")["lake"]
    landing = tmp_path / "landing"
    tables = Tables(spark, str(lake))
    epoch = json.loads((compressed_lake["run"] / "onnx" / "meta.json").read_text())["epoch"]
    set_alias(tables, "production", f"small/{epoch}/onnx", "first deploy")
    landed = [land(src, landing, f"v{i}.mp4") for i, src in enumerate(arrivals[:4])]
    command = [sys.executable, "jobs/stream_score.py", "--conf-file", "conf/score/local.yaml", "--input",
               str(landing), f"lake_uri={lake}", *STREAM, "max_files_per_trigger=1", "lock.lease_s=3"]
    job = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        # Killed once batch 1 has fixed its model and not yet committed: it has started scoring.
        wait_for("batch 1 under way", lambda: any(b["batch_id"] == 1 and b["committed_at"] is None
                                                  for b in batches(lake)) or job.poll() is not None, every_s=0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        out = job.communicate()[0]
    assert job.returncode == -signal.SIGKILL, out
    before = {b["batch_id"]: b["committed_at"] for b in batches(lake)}
    assert before[0] is not None and before[1] is None
    # A promotion before the restart: the killed batch still runs with the model it started with.
    set_alias(tables, "production", f"small/{epoch}/int8-static", "promoted while the stream was down")

    rerun = subprocess.run([*command, "idle_stop_s=3"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "1 run again after a restart" in rerun.stdout
    rows = predictions(lake)
    per_clip = Counter(r["clip_id"] for r in rows)
    assert max(per_clip.values()) == 1, "a clip predicted twice"
    assert scored_uris(lake) == {str(p) for p in landed}, "a landed video has no prediction"
    done = {b["batch_id"]: b for b in batches(lake)}
    assert sorted(done) == [0, 1, 2, 3] and all(b["committed_at"] is not None for b in done.values())
    models = {b["batch_id"]: b["model_id"] for b in done.values()}
    assert models[0] == models[1] == f"small/{epoch}/onnx" and models[3] == f"small/{epoch}/int8-static"
    for b in done.values():  # each file scored by its batch's model only
        assert len(b["uris"]) == 1 and {r["model_id"] for r in rows if r["uri"] == b["uris"][0]} == {b["model_id"]}


def test_the_documented_commands_score_what_lands_as_a_service_then_as_a_scheduled_run(
        spark, compressed_lake, arrivals, tmp_path):
    work = tmp_path / "work"
    lake, env = checkout_with_lake(spark, compressed_lake, work, "onnx")
    service, scheduled = commands("stream-score")
    job = subprocess.Popen(["bash", "-c", service], cwd=work, env=env, start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = land(arrivals[2], lake / "landing", "first.mp4")
        wait_for("the service to score a landing",
                 lambda: str(first) in committed_uris(lake) or job.poll() is not None)
    finally:
        os.killpg(job.pid, signal.SIGTERM)  # Ctrl-C or a scheduler's stop
        out = job.communicate(timeout=120)[0]
    assert str(first) in scored_uris(lake), out
    second = land(arrivals[3], lake / "landing", "second.mp4")
    run = subprocess.run(["bash", "-c", scheduled], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "files landed        1" in run.stdout and "scored            1" in run.stdout, run.stdout
    assert scored_uris(lake) == {str(first), str(second)}
    assert max(Counter(r["clip_id"] for r in predictions(lake)).values()) == 1
