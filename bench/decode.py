"""Decode benchmark: curate-stage decode frames/s per core over a bare decord sequential loop, same files, same run.

    python bench/decode.py [--videos 120] [--seed 3] [--mode shots|fixed] [--no-spark]

Baseline: one process, one decoder thread, ``VideoReader.next().asnumpy()`` over every frame of every file at
native resolution. Pipeline: the curate stage's own code (``VideoProcessor``: clip, decode, resize/crop, sample,
augment, write shards) with conf/local.yaml's settings, in one process (per-core work), and then as the Spark
decode stage of the curate job run by spark-submit on local[<cores>] (divided by those cores). Frames/s counts
each video's frames once, so both sides are charged for the same work. The ratio printed last is the Spark
stage's per-core rate over the baseline.
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

import yaml  # noqa: E402

from bench.results import Ratio, record  # noqa: E402
from sora_model import config as config_lib  # noqa: E402
from sora_model.dataset.build import DatasetPlan, VideoProcessor  # noqa: E402
from sora_model.dataset.shards import ShardConfig  # noqa: E402
from sora_model.video import decode as decode_lib  # noqa: E402
from sora_model.video.augment import AugmentConfig  # noqa: E402
from sora_model.video.clean import CleanConfig  # noqa: E402
from sora_model.video.clips import ClipConfig  # noqa: E402
from sora_model.video.decode import DecodeConfig  # noqa: E402
from sora_model.video.process import probe_video  # noqa: E402
from sora_model.video.synth import write_corpus  # noqa: E402


def cpu_s() -> float:
    """CPU seconds this process has used, all its threads: decord decodes on a thread of its own besides the
    caller's (about 1.45 cores busy with num_threads=1), torchcodec on the caller's, so per-core rates come from
    this, not from wall time."""
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def bare_decord(paths: list[str]) -> tuple[int, float]:
    import decord

    frames, start = 0, time.perf_counter()
    for path in paths:
        vr = decord.VideoReader(path, num_threads=1)
        for _ in range(len(vr)):
            vr.next().asnumpy()
        frames += len(vr)
    return frames, time.perf_counter() - start


def bare_torchcodec(paths: list[str]) -> tuple[int, float]:
    """The same loop with torchcodec (PyTorch's decoder on FFmpeg's shared libraries): every frame, in order,
    one FFmpeg thread, native resolution, each handed back as a contiguous HWC numpy array like decord's
    ``asnumpy()`` (its frames are pixel-identical to decord's on these files). Iterating the decoder is its
    fastest sequential path here: ``get_frames_in_range`` batches of 32 ran at 0.4-0.6x of it."""
    import numpy as np
    from torchcodec.decoders import VideoDecoder

    frames, start = 0, time.perf_counter()
    for path in paths:
        for frame in VideoDecoder(path, num_ffmpeg_threads=1, dimension_order="NHWC", seek_mode="approximate"):
            np.ascontiguousarray(frame.numpy())
            frames += 1
    return frames, time.perf_counter() - start


def torchcodec_missing() -> str | None:
    """Why torchcodec cannot run here, with what to install (``decode.backend``'s own check), or None."""
    try:
        decode_lib.require("torchcodec")
    except ImportError as e:
        return str(e)
    return None


def bare_decord_parallel(paths: list[str], procs: int) -> tuple[int, float]:
    """The baseline with ``procs`` cores busy at once, as Spark keeps them: per-core rate under the same load."""
    from concurrent.futures import ProcessPoolExecutor

    chunks = [paths[i::procs] for i in range(procs)]
    with ProcessPoolExecutor(procs) as pool:
        start = time.perf_counter()
        results = list(pool.map(bare_decord, chunks))
        wall = time.perf_counter() - start
    return sum(r[0] for r in results), wall * procs


def stage_in_process(paths: list[str], cfg: dict, out: str, isolate: bool | None = None,
                     backend: str | None = None) -> tuple[int, float]:
    """The curate decode stage's own code (``VideoProcessor``) over every file, in this process (the decoders in
    its decoding child process unless ``isolate`` is False; ``backend`` overrides ``decode.backend``)."""
    import dataclasses

    from sora_model.dataset.split import SplitConfig, assign_split

    section = {name: config_lib.build(cls, cfg.get(name)) for name, cls in
               (("clip", ClipConfig), ("decode", DecodeConfig), ("augment", AugmentConfig), ("shard", ShardConfig),
                ("split", SplitConfig))}
    videos = []
    for path in paths:
        probed = probe_video(path, CleanConfig())
        videos.append({"uri": path, "label": 0, "label_name": "x", **probed.columns(),
                       "split": assign_split(probed.video_id, section["split"])})
    decode = section["decode"] if isolate is None else dataclasses.replace(section["decode"], isolate=isolate)
    decode = decode if backend is None else dataclasses.replace(decode, backend=backend)
    plan = DatasetPlan(name="bench", version=1, out_uri=out, classes=("x",), clip=section["clip"],
                       decode=decode, augment=section["augment"], shard=section["shard"])
    proc = VideoProcessor(plan, "bench")
    frames, start = 0, time.perf_counter()
    for video in videos:
        _, status = proc.process(video)
        frames += status["decoded_frame_count"]
    proc.close()
    return frames, time.perf_counter() - start


def stage_on_spark(corpus: str, lake: str, cfg_overrides: list[str], cores: int) -> tuple[int, float]:
    """The curate job under spark-submit on local[cores]; (frames decoded, decode job wall seconds) from the
    run's summary.json in the lake."""
    run_id = "bench-decode"
    cmd = [str(Path(sys.executable).parent / "spark-submit"), str(ROOT / "jobs" / "curate.py"),
           "--conf-file", str(ROOT / "conf" / "local.yaml"), "--run-id", run_id, f"input_uri={corpus}",
           f"lake_uri={lake}", f"spark.master=local[{cores}]", "spark.conf.spark.ui.showConsoleProgress=false",
           *cfg_overrides]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    summary = json.loads((Path(lake) / "runs" / run_id / "summary.json").read_text())
    return summary["frames_decoded"], summary["decode_job_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--videos", type=int, default=120, help="synthetic videos to decode (default 120)")
    parser.add_argument("--seed", type=int, default=3, help="corpus seed (default 3)")
    parser.add_argument("--mode", choices=("shots", "fixed"), default="shots", help="clip mode (default shots)")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark stage measurement")
    args = parser.parse_args()
    overrides = [f"clip.mode={args.mode}"]
    # The curate job's settings as a tree: conf/local.yaml with the overrides on top (this bench builds only the
    # sections the decode stage uses, so it needs no Spark).
    cfg = config_lib.merge(yaml.safe_load((ROOT / "conf" / "local.yaml").read_text()),
                           config_lib.parse_overrides(overrides))
    decode = config_lib.build(DecodeConfig, cfg["decode"])
    copies = config_lib.build(AugmentConfig, cfg["augment"]).copies
    with tempfile.TemporaryDirectory(prefix="sora-bench-") as tmp:
        corpus = os.path.join(tmp, "corpus")
        write_corpus(corpus, videos=args.videos, seed=args.seed, workers=os.cpu_count() or 1, bad_files=False)
        paths = sorted(str(p) for p in Path(corpus).rglob("*.mp4"))
        bare_decord(paths[:4])  # warm the page cache and decord's libraries
        cpu0 = cpu_s()
        base_frames, base_s = bare_decord(paths)
        base_cpu_s = cpu_s() - cpu0
        base_fps = base_frames / base_s
        print(f"corpus: {len(paths)} videos, {base_frames} frames, mode={args.mode}, "
              f"{decode.frames_per_clip}x{decode.height_px}x{decode.width_px}, augment copies={copies}")
        print(f"bare decord sequential loop (1 process):   {base_fps:8.0f} frames/s   "
              f"{base_frames / base_cpu_s:.0f} per CPU second ({base_cpu_s / base_s:.2f} cores busy)")
        why_not = torchcodec_missing()
        if why_not is None:
            bare_torchcodec(paths[:4])
            cpu0 = cpu_s()
            tc_frames, tc_s = bare_torchcodec(paths)
            tc_cpu_s = cpu_s() - cpu0
            print(f"bare torchcodec sequential loop (1 process): {tc_frames / tc_s:6.0f} frames/s   "
                  f"{tc_frames / tc_cpu_s:.0f} per CPU second ({tc_cpu_s / tc_s:.2f} cores busy); per CPU second "
                  f"{tc_frames / tc_cpu_s / (base_frames / base_cpu_s):.2f}x decord (frames: {tc_frames} vs "
                  f"{base_frames})")
            record(Ratio("decode", "bare torchcodec / bare decord loop, frames per CPU second (same files)",
                         tc_frames / tc_cpu_s, base_frames / base_cpu_s, "frames/cpu-s"))
        else:
            print(f"torchcodec not measured: {why_not}")
        frames, secs = stage_in_process(paths, cfg, os.path.join(tmp, "shards"))
        proc_fps = frames / secs
        print(f"curate decode stage, in process (1 core):  {proc_fps:8.0f} frames/s   "
              f"ratio {proc_fps / base_fps:.2f}")
        # Containment overhead: the same stage with the decoders in this process and in the decoding child,
        # alternated and best-of-2 so page cache and clock drift charge both sides alike.
        best = {True: 0.0, False: 0.0}
        for _ in range(2):
            for isolate in (False, True):
                f, s = stage_in_process(paths, cfg, os.path.join(tmp, f"shards-{isolate}"), isolate=isolate)
                best[isolate] = max(best[isolate], f / s)
        print(f"  decoders in process / in a child:        {best[False]:8.0f} / {best[True]:.0f} frames/s   "
              f"containment overhead {100 * (1 - best[True] / best[False]):.1f} %")
        record(Ratio("decode", "curate decode stage in one process / bare decord (1 core)", proc_fps, base_fps,
                     "frames/s"))
        record(Ratio("decode", "decoders in a child process / in process (containment)", best[True], best[False],
                     "frames/s", goal_min=0.95))
        if why_not is None:
            # The stage as the pipeline runs it (resize in the decoder, clips, shards) with either backend, the
            # decoders in this process so that their CPU time is counted; alternated, best of 2.
            wall = {"decord": 0.0, "torchcodec": 0.0}
            per_cpu = dict(wall)
            for _ in range(2):
                for backend in wall:
                    cpu0 = cpu_s()
                    f, s = stage_in_process(paths, cfg, os.path.join(tmp, f"shards-{backend}"), isolate=False,
                                            backend=backend)
                    wall[backend] = max(wall[backend], f / s)
                    per_cpu[backend] = max(per_cpu[backend], f / (cpu_s() - cpu0))
            print(f"  decode.backend decord / torchcodec:      {wall['decord']:8.0f} / {wall['torchcodec']:.0f} "
                  f"frames/s, {per_cpu['decord']:.0f} / {per_cpu['torchcodec']:.0f} per CPU second   ratio "
                  f"{wall['torchcodec'] / wall['decord']:.2f} / {per_cpu['torchcodec'] / per_cpu['decord']:.2f}")
            record(Ratio("decode", "curate decode stage, decode.backend torchcodec / decord, per CPU second",
                         per_cpu["torchcodec"], per_cpu["decord"], "frames/cpu-s"))
        if args.no_spark:
            print(f"ratio (in-process stage / bare decord): {proc_fps / base_fps:.2f}")
            return 0
        cores = os.cpu_count() or 1
        frames, secs = stage_on_spark(corpus, os.path.join(tmp, "lake"), overrides, cores)
        spark_fps = frames / secs / cores
        par_frames, par_core_s = bare_decord_parallel(paths, cores)
        par_fps = par_frames / par_core_s
        print(f"bare decord, {cores} processes at once:        {par_fps:8.0f} frames/s per core")
        print(f"curate decode job on Spark local[{cores}]:     {spark_fps:8.0f} frames/s per core "
              f"({frames} frames in {secs:.1f}s wall: scheduling, Arrow transfer and staging write included)")
        print(f"ratio vs the one-process loop: {spark_fps / base_fps:.2f}")
        print(f"ratio (Spark decode per core / bare decord per core, {cores} cores busy in both): "
              f"{spark_fps / par_fps:.2f}")
        record(Ratio("decode", f"Spark decode stage / bare decord, per core, {cores} cores busy", spark_fps, par_fps,
                     "frames/s", goal_min=0.9))
    return 0


if __name__ == "__main__":
    sys.exit(main())
