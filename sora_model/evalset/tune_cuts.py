"""Fit the default shot detector (``shots.CutDetector``): its network on shot sets built from the tuning half's
footage, its threshold on another tuning-half set; the held-out half is never read here.

    python -m sora_model.evalset.tune_cuts [--train-seeds 1 2 3 4 5] [--threshold-seed 0] [--out PATH]

Frames are decoded as curate decodes them (decord, short side to the output size, centre crop, one thread), at
64 and 32 px. Each boundary's features are recorded by the streaming detector itself, so the network sees exactly
what it will be given. Needs torch (training only; the detector runs the network in numpy).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
from pathlib import Path

import numpy as np

from sora_model.evalset import shotset
from sora_model.video import shots

logger = logging.getLogger(__name__)

SIDES_PX = (64, 32)
"""Decode sizes the network is fit on (DecodeConfig's default, and the demo's)."""
HIDDEN = (16,)
IGNORE_FRAMES = shotset.TOLERANCE_FRAMES
"""Boundaries this close to a transition are neither cut nor not-cut while fitting (the score allows them)."""


def labels(video: shotset.CutVideo, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(target, weight) for the boundaries before frames 1..n-1: 1 at a hard cut's frame and across a gradual
    transition, 0 elsewhere, weight 0 next to a transition."""
    y, m = np.zeros(n, np.float32), np.ones(n, np.float32)
    for t in video.transitions:
        last = t.end + (t.kind != "hard")
        m[max(0, t.start - IGNORE_FRAMES):min(n, last + IGNORE_FRAMES + 1)] = 0
        y[t.start:last + 1] = 1
        m[t.start:last + 1] = 1
    return y[1:], m[1:]


def features(frames: np.ndarray, fps: float) -> np.ndarray:
    """Feature rows of the boundaries before frames 1..n-1, as the streaming detector computes them."""
    detector = shots.CutDetector(fps, 1, model=shots.CutModel.recorder(), record=True)
    for frame in frames:
        detector.push(frame)
    detector.finish()
    return np.concatenate(detector.recorded)


def dataset(seeds: list[int], sides: tuple[int, ...] = SIDES_PX) -> list[tuple[shotset.CutVideo, np.ndarray,
                                                                              np.ndarray, np.ndarray]]:
    out = []
    for seed in seeds:
        for video in shotset.cached("tuning", seed=seed):
            for side in sides:
                frames, _ = shotset.decode(video.path, side)
                y, m = labels(video, len(frames))
                out.append((video, features(frames, video.fps), y, m))
    return out


def fit(data: list, hidden: tuple[int, ...] = HIDDEN, epochs: int = 400, seed: int = 0) -> shots.CutModel:
    import torch

    torch.manual_seed(seed)
    x = np.concatenate([d[1] for d in data])
    y, m = np.concatenate([d[2] for d in data]), np.concatenate([d[3] for d in data])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    xt, yt, mt = torch.tensor((x - mean) / std), torch.tensor(y), torch.tensor(m)
    layers: list = []
    width = x.shape[1]
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt)[:, 0], yt, weight=mt)
        loss.backward()
        opt.step()
    linear = [layer for layer in net if isinstance(layer, torch.nn.Linear)]
    return shots.CutModel(
        features=shots.FEATURES, mean=mean.astype(np.float32), std=std.astype(np.float32),
        layers=tuple((lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy()) for lin in linear),
        threshold=0.5, about="")


def cuts_at(model: shots.CutModel, frames: np.ndarray, fps: float, threshold: float) -> list[int]:
    detector = shots.CutDetector(fps, round(0.5 * fps), threshold=threshold, model=model)
    for frame in frames:
        detector.push(frame)
    detector.finish()
    return detector.cuts


def choose_threshold(model: shots.CutModel, seed: int) -> tuple[float, float]:
    """(threshold, F1) of the best threshold on the tuning-half set ``seed`` at 64 px."""
    decoded = [(v, shotset.decode(v.path, SIDES_PX[0])[0]) for v in shotset.cached("tuning", seed=seed)]
    best = (0.5, -1.0)
    for threshold in np.round(np.arange(0.3, 0.96, 0.05), 2):
        total: dict[str, shotset.Score] = {}
        for video, frames in decoded:
            shotset.add(total, shotset.score(video, cuts_at(model, frames, video.fps, float(threshold))))
        logger.info("threshold %.2f: F1 %.3f", threshold, total["all"].f1)
        if total["all"].f1 > best[1]:
            best = (float(threshold), total["all"].f1)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5],
                        help="tuning-half shot sets the network is fit on (default 1 2 3 4 5)")
    parser.add_argument("--threshold-seed", type=int, default=0,
                        help="tuning-half shot set the threshold is chosen on (default 0)")
    parser.add_argument("--out", type=Path, default=Path(shots.__file__).with_name(shots._MODEL_FILE),
                        help="where to write the model (default: the one the detector loads)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = dataset(args.train_seeds)
    logger.info("fitting on %d boundaries (%d positive)", sum(len(d[2]) for d in data),
                int(sum(d[2].sum() for d in data)))
    model = fit(data)
    threshold, f1 = choose_threshold(model, args.threshold_seed)
    about = (f"fit {datetime.date.today()} on tuning-half shot sets {args.train_seeds} at {SIDES_PX} px, "
             f"threshold on set {args.threshold_seed} (F1 {f1:.3f} there)")
    args.out.write_text(json.dumps({
        "features": list(model.features), "mean": model.mean.tolist(), "std": model.std.tolist(),
        "layers": [[w.tolist(), b.tolist()] for w, b in model.layers], "threshold": threshold, "about": about},
        separators=(",", ":")) + "\n")
    print(f"wrote {args.out}: {about}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
