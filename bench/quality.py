"""Quality-filter benchmark: precision and recall of each filter curate applies to clips (blank, frozen, blurry,
letterboxed) on real footage nobody tuned on, and whether dark real scenes are kept, measured in one run.

    python bench/quality.py [--sides 64 32] [--json out.json]

Each half's set (``sora_model.evalset.qualityset``): two-second stretches of real footage, as shot and darkened
(night footage: to be kept), each spoiled once (blanked, held, blurred or boxed), and still sources as they are;
every stretch is scored as one clip, decoded as curate decodes it at each output size. Held-out half first,
tuning half (which set the thresholds) beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Ratio, record  # noqa: E402
from sora_model.evalset import qualityset  # noqa: E402
from sora_model.video.quality import FILTER_REASONS, QualityConfig  # noqa: E402


def measure(half: str, side: int) -> dict[str, dict[str, float]]:
    video, stretches = qualityset.cached(half)
    got = qualityset.verdicts(video, stretches, QualityConfig(), side)
    scores = qualityset.score(stretches, got)
    out = {k: {"precision": s.precision, "recall": s.recall, "tp": s.tp, "fp": s.fp, "fn": s.fn}
           for k, s in scores.items()}
    wrong = [f"{s.label}/{s.how} ({s.source}) -> {g}" for s, g in zip(stretches, got) if g != s.label]
    out["wrong"] = wrong  # type: ignore[assignment]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[64, 32], help="output sizes (default 64 32)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = {}
    for side in args.sides:
        held, tuning = measure("heldout", side), measure("tuning", side)
        results[side] = {"heldout": held, "tuning": tuning}
        _, stretches = qualityset.cached("heldout")
        print(f"\n{side} px: held-out {len(stretches)} stretches (tuning half beside)")
        print(f"{'filter':<12} {'precision':>16} {'recall':>16}")
        for k in (*FILTER_REASONS, "dark_kept"):
            h, t = held[k], tuning[k]
            name = "dark kept" if k == "dark_kept" else k
            print(f"{name:<12} {h['precision']:7.2f} ({t['precision']:.2f}) {h['recall']:9.2f} ({t['recall']:.2f})"
                  f"   held-out tp {h['tp']} fp {h['fp']} fn {h['fn']}")
        for line in held["wrong"]:
            print(f"  held-out miss: {line}")
        for k in FILTER_REASONS:
            for what in ("precision", "recall"):
                record(Ratio("quality", f"held-out {k} {what}, {side} px (tuning half {tuning[k][what]:.2f})",
                             held[k][what], 1.0, "share", goal_min=0.9))
        dark = tuning["dark_kept"]["precision"]
        record(Ratio("quality", f"held-out dark real clips kept, {side} px (tuning {dark:.2f})",
                     held["dark_kept"]["precision"], 1.0, "share", goal_min=0.9))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
