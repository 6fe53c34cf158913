"""Streaming scoring benchmark: latency from a file landing to its prediction rows being committed, p50/p95, at
a steady arrival rate, against scoring one video in-process (the work itself, no Spark, no lake).

    python bench/stream_score.py [--videos 20] [--every-s 2.0] [--trigger-s 1.0]

The stream is the job a user starts (``jobs/stream_score.py`` with conf/score/local.yaml, a local[2] master),
scoring with the demo model's architecture (random weights, ONNX: speed does not depend on the weights) on
synthetic demo videos. One video lands first and is waited for (the JVM's start is not a landing's latency);
then one lands every ``--every-s`` seconds (written under a hidden name, renamed in). A landing's latency is its
batch's commit time (``stream_batches.committed_at``: when its rows can be read) minus its modification time.
The baseline is the mean time ``deploy.scoring.score_video`` takes per video of the same set, in this process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402

MODEL = {"widths": (16, 32, 64), "embed_dim": 64, "heads": 4, "spatial_grid": 2}
"""conf/train/local.yaml's model."""
FRAMES_SHAPE = [8, 32, 32, 3]
"""conf/local.yaml's clips."""


def write_model(directory: Path) -> Path:
    """An ONNX variant of the demo architecture with random weights and a card, as jobs/compress.py writes one."""
    from datetime import datetime, timezone

    import torch

    from sora_model.deploy.quantize import export_onnx
    from sora_model.lake import storage
    from sora_model.lake.card import ModelCard, write_card
    from sora_model.train.model import ModelConfig, SoraModel
    from sora_model.video.synth import CLASSES

    torch.manual_seed(0)
    config = ModelConfig(num_classes=len(CLASSES), **MODEL)
    directory.mkdir(parents=True)
    export_onnx(SoraModel(config), directory / "model.onnx", FRAMES_SHAPE)
    write_card(str(directory), ModelCard(
        run_id="bench", epoch=1, step=1, variant="onnx", format="onnx",
        sha256=storage.sha256_file(str(directory / "model.onnx")),
        size_bytes=(directory / "model.onnx").stat().st_size, dataset="bench", dataset_version=1,
        classes=list(CLASSES), frames_shape=FRAMES_SHAPE, model_config={**MODEL, "num_classes": len(CLASSES)},
        created_at=datetime.now(timezone.utc).isoformat()))
    return directory


def in_process_s(videos: list[Path], model_dir: Path, cfg: Any, threads: int) -> float:  # noqa: ANN401
    """Mean seconds per video of the scoring path alone (one thread, no Spark, no lake), with the clean, clip,
    decode and batch settings of ``cfg`` (a job's config)."""
    from sora_model.deploy.scoring import predictor, score_video
    from sora_model.lake.card import read_card

    model = predictor(str(model_dir), threads=threads)
    decode = cfg.decode.with_frames_shape(read_card(str(model_dir)).frames_shape)
    score_video(str(videos[0]), model, cfg.clean, cfg.clip, decode, cfg.batch_size)  # warm
    began = time.perf_counter()
    for v in videos:
        score_video(str(v), model, cfg.clean, cfg.clip, decode, cfg.batch_size)
    return (time.perf_counter() - began) / len(videos)


def committed(lake: Path) -> dict[str, float]:
    """Landed URI -> its batch's commit time (Unix seconds)."""
    from sora_model.lake import delta

    out = {}
    for b in delta.read_rows(str(lake), "stream_batches", ["uris", "committed_at"]):
        if b["committed_at"] is not None:
            out.update({u: b["committed_at"].timestamp() for u in b["uris"]})
    return out


def land(src: Path, landing: Path, name: str) -> Path:
    final = landing / name
    shutil.copyfile(src, landing / f".{name}.partial")
    os.replace(landing / f".{name}.partial", final)
    return final


def wait(lake: Path, uris: list[str], job: subprocess.Popen, timeout_s: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if job.poll() is not None:
            raise SystemExit(f"the stream stopped (status {job.returncode}):\n{job.stdout.read()}")
        got = committed(lake) if (lake / "tables" / "stream_batches").exists() else {}
        if all(u in got for u in uris):
            return got
        time.sleep(0.2)
    raise SystemExit(f"timed out after {timeout_s:g} s waiting for {len(uris)} landings to be scored")


def main() -> int:
    import numpy as np

    from pipelines.stream_score import StreamScoreConfig
    from sora_model import config as config_lib
    from sora_model.video.synth import write_corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=20, help="landings measured after the first")
    parser.add_argument("--every-s", type=float, default=2.0, help="seconds between two landings")
    parser.add_argument("--trigger-s", type=float, default=1.0, help="the stream's trigger_interval_s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        work = Path(tmp)
        write_corpus(work / "corpus", videos=args.videos + 1, seed=5, bad_files=False)
        videos = sorted((work / "corpus").rglob("*.mp4"))
        model = write_model(work / "model")
        cfg = config_lib.load(StreamScoreConfig, ROOT / "conf" / "score" / "local.yaml")
        per_video_s = in_process_s(videos, model, cfg, cfg.threads_per_task)
        landing, lake = work / "landing", work / "lake"
        landing.mkdir()
        job = subprocess.Popen(
            [sys.executable, "jobs/stream_score.py", "--conf-file", "conf/score/local.yaml", "--input", str(landing),
             "--model", str(model), f"lake_uri={lake}", f"trigger_interval_s={args.trigger_s:g}",
             "monitor_windows=false", "idle_stop_s=15"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = land(videos[0], landing, "warm-up.mp4")
        wait(lake, [str(first)], job, 300)
        landed: dict[str, float] = {}
        began = time.monotonic()
        for i, v in enumerate(videos[1:]):
            time.sleep(max(0.0, began + i * args.every_s - time.monotonic()))
            path = land(v, landing, f"v{i:03d}.mp4")
            landed[str(path)] = path.stat().st_mtime
        done = wait(lake, list(landed), job, 300)
        out = job.communicate(timeout=120)[0]
        latency = np.array([done[u] - t for u, t in landed.items()])
    p50, p95 = np.percentile(latency, 50), np.percentile(latency, 95)
    print(out[out.find("scoring stream"):].strip())  # the job's summary
    print(f"{len(latency)} videos landing every {args.every_s:g} s (trigger every {args.trigger_s:g} s): landed -> "
          f"committed p50 {p50:.2f} s, p95 {p95:.2f} s, max {latency.max():.2f} s; scoring one video in-process "
          f"{per_video_s:.2f} s")
    print(f"ratio p50 latency / in-process scoring: {p50 / per_video_s:.2f}")
    record(Ratio("stream_score", "streaming: landed -> committed p50, over scoring the video in-process", p50,
                 per_video_s, "s"))
    record(Ratio("stream_score", "streaming: landed -> committed p95, over scoring the video in-process", p95,
                 per_video_s, "s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
