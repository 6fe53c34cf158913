"""Near-duplicate benchmark: curate's judgement on real copies and look-alikes nobody tuned on, and the cost of
finding candidates as the corpus grows, measured in one run.

    python bench/near_dups.py [--sizes 1000 10000 100000] [--json out.json]

1. Judgement: each half's set (``sora_model.evalset.dupset``: the footage's files, 12 kinds of copy, and distinct
   videos sharing a black intro, an intro clip, blank frames or a background), every pair judged as curate judges
   it (``signature.video_signature``, the LSH candidates, ``similarity`` >= ``min_match_frac``): pair precision,
   recall on (original, copy) pairs per kind, and on every same-content pair. Held-out half first, tuning beside.
2. Cost: generated signatures (random 64-bit hashes, 8-256 per video; one video in ten a copy of another with a
   few bits flipped per hash and a tenth of its hashes dropped), at each size: candidate pairs found by the
   driver's path (``candidate_pairs``) and its time, and the exponent of their growth with the corpus.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.results import Ratio, record  # noqa: E402
from sora_model.evalset import dupset  # noqa: E402
from sora_model.video.signature import NearDupConfig, SignedVideo, candidate_pairs  # noqa: E402


def judgement(half: str, cfg: NearDupConfig) -> dict:
    videos = dupset.cached(half)
    found, candidates, signature_s = dupset.judge(videos, cfg)
    scores = dupset.score(videos, found)
    n_pairs = len(videos) * (len(videos) - 1) // 2
    a, c = scores["all"], scores["copies"]
    print(f"\n{half} half: {len(videos)} videos ({sum(v.how == 'original' for v in videos)} originals), {n_pairs} "
          f"pairs, {candidates} LSH candidates; signatures {signature_s / len(videos) * 1000:.0f} ms a video")
    print(f"  pair precision {a.precision:.3f} ({a.fp} false of {a.negatives} distinct pairs); recall on copies "
          f"{c.recall:.3f} ({c.tp}/{c.tp + c.fn}), on every same-content pair {a.recall:.3f} ({a.tp}/{a.tp + a.fn})")
    print("  " + "  ".join(f"{k} {s.recall:.2f}" for k, s in scores.items()
                           if k in (*dupset.COPIES, "packaged", *dupset.LOOKALIKES[:3]) and s.tp + s.fn))
    lookalike_fp = {k: scores[k].fp for k in dupset.LOOKALIKES}
    print("  false pairs touching look-alikes: " + ", ".join(f"{k} {n}/{scores[k].negatives}"
                                                            for k, n in lookalike_fp.items()))
    return {"precision": a.precision, "copy_recall": c.recall, "pair_recall": a.recall, "false_pairs": a.fp,
            "distinct_pairs": a.negatives, "candidates": candidates, "pairs": n_pairs,
            "recall_by_kind": {k: s.recall for k, s in scores.items() if s.tp + s.fn},
            "signature_ms": signature_s / len(videos) * 1000}


def generated(n: int, rng: np.random.Generator) -> list[SignedVideo]:
    lengths = rng.integers(8, 257, size=n)
    sigs = [rng.integers(-(1 << 63), (1 << 63) - 1, size=int(k), dtype=np.int64) for k in lengths]
    for i in range(0, n - 1, 10):  # one in ten: a copy of the video before it
        src = sigs[i]
        keep = src[rng.random(len(src)) >= 0.1]
        flips = rng.integers(0, 64, size=(len(keep), 2)).astype(np.uint64)
        bits = (np.uint64(1) << flips[:, 0]) | np.where(rng.random(len(keep)) < 0.5, np.uint64(1) << flips[:, 1], 0)
        sigs[i + 1] = (keep.view(np.uint64) ^ bits.astype(np.uint64)).view(np.int64)
    return [SignedVideo(video_id=f"v{i:07d}", uri=f"/c/{i}.mp4", signature=tuple(s.tolist()), in_lake=False,
                        labelled=False, duration_s=1.0, pixels=1) for i, s in enumerate(sigs)]


def scale(sizes: list[int], cfg: NearDupConfig) -> list[dict]:
    print(f"\ncandidate search on generated signatures ({cfg.bands} bands, {cfg.band_frames} anchors a video)")
    print(f"{'videos':>8} {'candidates':>11} {'per video':>9} {'planted':>8} {'seconds':>8} {'us/video':>9}")
    rows = []
    for n in sizes:
        videos = generated(n, np.random.default_rng(n))
        start = time.perf_counter()
        pairs = candidate_pairs(videos, [], cfg.bands, cfg.band_frames)
        seconds = time.perf_counter() - start
        planted = sum(1 for a, b in pairs if int(b[1:]) - int(a[1:]) == 1 and int(a[1:]) % 10 == 0)
        rows.append({"videos": n, "candidates": len(pairs), "planted_found": planted, "seconds": seconds})
        print(f"{n:8d} {len(pairs):11d} {len(pairs) / n:9.3f} {planted:8d} {seconds:8.2f} {seconds / n * 1e6:9.1f}")
    first, last = rows[0], rows[-1]
    growth = math.log(last["videos"] / first["videos"]) or 1.0
    for key in ("candidates", "seconds"):
        exponent = math.log(max(last[key], 1e-9) / max(first[key], 1e-9)) / growth
        print(f"{key} grow as videos^{exponent:.2f}")
        for r in rows:
            r[f"{key}_exponent"] = exponent
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000],
                        help="corpus sizes of generated signatures (default 1000 10000 100000)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    cfg = NearDupConfig()
    held = judgement("heldout", cfg)
    tuning = judgement("tuning", cfg)
    rows = scale(args.sizes, cfg)
    record(Ratio("near_dups", f"held-out pair precision (tuning half {tuning['precision']:.3f})", held["precision"],
                 1.0, "share", goal_min=0.99))
    record(Ratio("near_dups", f"held-out recall on copies (tuning half {tuning['copy_recall']:.2f})",
                 held["copy_recall"], 1.0, "share", goal_min=0.9))
    last, first = rows[-1], rows[0]
    record(Ratio("near_dups", f"candidates per video, {last['videos']} / {first['videos']} videos "
                 f"(exponent {last['candidates_exponent']:.2f})", last["candidates"] / last["videos"],
                 first["candidates"] / first["videos"], "pairs", goal_max=1.5))
    record(Ratio("near_dups", f"candidate time per video, {last['videos']} / {first['videos']} videos "
                 f"(exponent {last['seconds_exponent']:.2f})", last["seconds"] / last["videos"],
                 first["seconds"] / first["videos"], "s", goal_max=1.5))
    if args.json:
        Path(args.json).write_text(json.dumps({"heldout": held, "tuning": tuning, "scale": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
