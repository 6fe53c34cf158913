"""Shot-boundary benchmark on real footage nobody tuned on: every detector ``clip.cut_detector`` selects (this
project's, PySceneDetect's ContentDetector and AdaptiveDetector, TransNetV2), as curate streams them, on the
held-out half of ``sora_model.evalset`` and (beside it, to show overfitting) on the tuning half that set the
default detector: precision, recall, F1 per transition kind, false cuts per hard negative, and frames/s against
decoding alone, measured in one run.

    python bench/shots.py [--side 64] [--videos 12] [--seconds 40] [--no-transnet] [--json out.json]

Each half's set (``shotset``): 12 videos of 40 s at 640x360, 25 fps, h264, joining single-shot stretches of that
half's sources by hard cuts, dissolves (10-30 frames) and fades, with flashes, flicker, zooms and dark shots inside
shots; built once and cached. Frames are decoded as curate decodes them (decord, short side to ``--side``, centre
crop, one thread); each detector then runs on one core over those frames. TransNetV2 runs on the held-out half
only (a CPU core takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from bench.results import Ratio, record  # noqa: E402
from sora_model.evalset import shotset  # noqa: E402
from sora_model.video import shot_detectors  # noqa: E402
from sora_model.video.clips import ClipConfig  # noqa: E402
from sora_model.video.shots import detector_for  # noqa: E402

NAMES = {"sora": "sora (default)", "pyscenedetect_content": "PySceneDetect Content",
         "pyscenedetect_adaptive": "PySceneDetect Adaptive", "transnetv2": "TransNetV2 (CPU, 1 thread)"}


def run_detector(name: str, frames: np.ndarray, fps: float) -> list[int]:
    """What ``clip.cut_detector: <name>`` finds in curate, streamed over one video's frames."""
    detector = detector_for(ClipConfig(mode="shots", cut_detector=name), fps)
    for f in frames:
        detector.push(f)
    detector.finish()
    return detector.cuts


def measure(half: str, names: list[str], args: argparse.Namespace) -> dict[str, dict]:
    videos = shotset.cached(half, videos=args.videos, seconds=args.seconds)
    shotset.decode(videos[0].path, args.side)  # page cache warm before anything is timed
    decoded = [shotset.decode(v.path, args.side) for v in videos]
    n_frames = sum(len(f) for f, _ in decoded)
    decode_fps = n_frames / sum(s for _, s in decoded)
    kinds = {k: sum(t.kind == k for v in videos for t in v.transitions) for k in shotset.KINDS}
    events = {k: sum(e.kind == k for v in videos for e in v.events) for k in shotset.EVENTS}
    print(f"\n{half} half: {len(videos)} videos, {n_frames} frames; transitions "
          + ", ".join(f"{k} {n}" for k, n in kinds.items()) + "; inside shots " + ", ".join(
              f"{k} {n}" for k, n in events.items()))
    print(f"decode only: {decode_fps:.0f} frames/s (decord, {args.side}x{args.side}, 1 thread)")
    print(f"{'detector':<28} {'P':>5} {'R':>5} {'F1':>5} | " + " ".join(f"{k + ' F1':>12}" for k in shotset.KINDS)
          + " | false cuts in " + " ".join(f"{k:>7}" for k in shotset.EVENTS) + f" | {'frames/s':>8} {'x decode':>8}")
    table = {}
    for name in names:
        total: dict[str, shotset.Score] = {}
        start = time.perf_counter()
        found = [run_detector(name, frames, v.fps) for v, (frames, _) in zip(videos, decoded)]
        detect_s = time.perf_counter() - start
        for v, cuts in zip(videos, found):
            shotset.add(total, shotset.score(v, cuts))
        fps = n_frames / (n_frames / decode_fps + detect_s)
        a = total["all"]
        table[name] = {"precision": a.precision, "recall": a.recall, "f1": a.f1, "frames_per_s": fps,
                       "x_decode": fps / decode_fps, **{f"{k}_f1": total[k].f1 for k in shotset.KINDS},
                       **{f"false_in_{k}": total[k].fp for k in shotset.EVENTS}}
        print(f"{NAMES[name]:<28} {a.precision:5.2f} {a.recall:5.2f} {a.f1:5.2f} | "
              + " ".join(f"{total[k].f1:12.2f}" for k in shotset.KINDS) + " |               "
              + " ".join(f"{total[k].fp:7d}" for k in shotset.EVENTS) + f" | {fps:8.0f} {fps / decode_fps:8.2f}")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--side", type=int, default=64, help="decode size, as decode.height_px (default 64)")
    parser.add_argument("--videos", type=int, default=12, help="videos per half (default 12)")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each (default 40)")
    parser.add_argument("--no-transnet", action="store_true", help="skip TransNetV2 (minutes on a CPU core)")
    parser.add_argument("--json", help="also write both halves' tables here")
    args = parser.parse_args()
    names = [n for n in NAMES if not (args.no_transnet and n == "transnetv2")]
    for name in names:  # imports and the model load are setup, not detection: untimed
        list(shot_detectors.prepare(ClipConfig(mode="shots", cut_detector=name)))
    held = measure("heldout", names, args)
    tuning = measure("tuning", [n for n in names if n != "transnetv2"], args)
    best_other = max((held[n]["f1"], n) for n in held if n.startswith("pyscenedetect"))
    s = held["sora"]
    record(Ratio("shots", f"held-out F1, default detector (tuning half {tuning['sora']['f1']:.2f})", s["f1"], 1.0,
                 "F1", goal_min=0.9))
    record(Ratio("shots", f"held-out F1, default / {NAMES[best_other[1]]}", s["f1"], best_other[0], "F1",
                 goal_min=1.0))
    record(Ratio("shots", f"held-out decode + default detector / decode only ({args.side} px)", s["frames_per_s"],
                 s["frames_per_s"] / s["x_decode"], "frames/s", goal_min=0.8))
    if "transnetv2" in held:
        record(Ratio("shots", "held-out F1, TransNetV2 (CPU)", held["transnetv2"]["f1"], 1.0, "F1"))
    if args.json:
        Path(args.json).write_text(json.dumps({"heldout": held, "tuning": tuning}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
