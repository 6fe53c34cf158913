"""A shot-boundary test set from real footage: segments of different real videos joined by hard cuts,
dissolves and fades, with flashes and flicker inside shots (which are not boundaries), encoded as h264; and the
scoring of a detector's cut frames against it (precision, recall, F1 per transition kind).

Ground truth is exact by construction: every transition is placed by this code at a known frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

KINDS = ("hard", "dissolve", "fade")
SHOTS_OF_SOURCES = {"city.mpg": (115,)}
"""Hard cuts inside the source videos, at 25 fps (city.mpg: frame 115 differs from 114 by 47 grey levels on
average; no other pair of consecutive frames in any source by more than 6). Segments never span them."""
"""Transition kinds (flashes and flicker are events inside shots, never boundaries)."""
TOLERANCE_FRAMES = 2
"""A detected cut counts for a transition when it lies within the transition, or this many frames of it."""


@dataclass(frozen=True)
class Transition:
    kind: str
    start: int
    """First frame of the transition (for a hard cut: the first frame of the new shot)."""
    end: int
    """Last frame of the transition (== start for a hard cut)."""


@dataclass
class CutVideo:
    path: str
    fps: float
    frames: int
    transitions: list[Transition] = field(default_factory=list)
    flashes: list[int] = field(default_factory=list)
    """First frames of flashes (two bright frames inside a shot)."""
    flicker: list[tuple[int, int]] = field(default_factory=list)
    """Frame ranges with per-frame brightness flicker (old film)."""

    def as_dict(self) -> dict:
        return asdict(self)


def _frames(path: Path, width_px: int, height_px: int, fps: float) -> list[np.ndarray]:
    """Every frame of a video resampled to ``fps`` (nearest earlier frame by timestamp), at one size."""
    import av

    out: list[np.ndarray] = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        t0 = None
        for frame in c.decode(stream):
            t = frame.time if frame.time is not None else len(out) / fps
            t0 = t if t0 is None else t0
            img = frame.to_ndarray(format="rgb24", width=width_px, height=height_px)
            while len(out) <= (t - t0) * fps:
                out.append(img)
    return out


def build(footage: dict[str, Path], out_dir: Path, videos: int = 3, seconds: float = 40.0, seed: int = 0,
          width_px: int = 160, height_px: int = 120, fps: float = 25.0) -> list[CutVideo]:
    """Write ``videos`` test videos of about ``seconds`` each under ``out_dir``; sources are single-shot real
    videos (``city.mpg``, ``tree.avi``, ``vtest.avi``), consecutive segments always from different sources."""
    from sora_model.video.synth import _encode

    rng = np.random.default_rng(seed)
    sources: dict[str, list[np.ndarray]] = {}
    for name in ("city.mpg", "tree.avi", "vtest.avi"):
        if name in footage:
            frames_ = _frames(footage[name], width_px, height_px, fps)
            bounds = [0, *(round(c * fps / 25.0) for c in SHOTS_OF_SOURCES.get(name, ())), len(frames_)]
            for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
                sources[f"{name}#{k}"] = frames_[a:b]
    names = list(sources)
    if len(names) < 2:
        raise ValueError(f"need at least two single-shot sources, got {names}")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = []
    for v in range(videos):
        frames: list[np.ndarray] = []
        cut = CutVideo(path=str(out_dir / f"cuts_{v}.mp4"), fps=fps, frames=0)
        prev = None
        flicker_segment = int(rng.integers(1, 4))
        segment = 0
        while len(frames) < seconds * fps:
            name = str(rng.choice([n for n in names if n != prev]))
            src = sources[name]
            length = min(len(src), int(rng.integers(int(1.6 * fps), int(4.0 * fps))))
            start = int(rng.integers(0, max(1, len(src) - length)))
            seg = [f.copy() for f in src[start:start + length]]
            if len(seg) < fps:
                continue
            if segment == flicker_segment:  # an old film's flicker: brightness jumps frame to frame
                gains = rng.uniform(0.75, 1.25, size=len(seg))
                seg = [np.clip(f * g, 0, 255).astype(np.uint8) for f, g in zip(seg, gains)]
                cut.flicker.append((len(frames), len(frames) + len(seg) - 1))
            if len(seg) > 2 * fps and rng.random() < 0.3:  # a flash (camera flash, lightning) inside the shot
                at = int(rng.integers(int(0.5 * fps), len(seg) - int(0.5 * fps)))
                for k in (at, at + 1):
                    seg[k] = np.clip(seg[k].astype(np.int16) + 140, 0, 255).astype(np.uint8)
                cut.flashes.append(len(frames) + at)
            if frames:
                kind = str(rng.choice(KINDS, p=[0.5, 0.25, 0.25]))
                if kind == "hard":
                    cut.transitions.append(Transition("hard", len(frames), len(frames)))
                elif kind == "dissolve":
                    n = int(rng.integers(8, 17))
                    tail, head = frames[-n:], seg[:n]
                    mixed = [((1 - a) * t + a * h).astype(np.uint8)
                             for a, t, h in zip(np.linspace(0, 1, n + 2)[1:-1], tail, head)]
                    first = len(frames) - n
                    frames[-n:] = mixed
                    seg = seg[n:]
                    cut.transitions.append(Transition("dissolve", first, first + n - 1))
                else:  # fade out to black, fade in from black
                    n = int(rng.integers(6, 13))
                    for k, a in enumerate(np.linspace(1, 0, n + 1)[1:]):
                        frames[-n + k] = (frames[-n + k] * a).astype(np.uint8)
                    for k, a in enumerate(np.linspace(0, 1, n + 1)[:-1]):
                        seg[k] = (seg[k] * a).astype(np.uint8)
                    cut.transitions.append(Transition("fade", len(frames) - n, len(frames) + n - 1))
            frames.extend(seg)
            prev, segment = name, segment + 1
        cut.frames = len(frames)
        _encode(Path(cut.path), iter(frames), width_px, height_px, int(fps), False)
        result.append(cut)
    return result


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(video: CutVideo, cuts: list[int]) -> dict[str, Score]:
    """Per kind and 'all': a transition is found by the first detected cut within its span (± tolerance); any
    other detected cut (a second one in the same transition, one in a flash or in flicker) is a false positive,
    charged to the kind of the transition it fell in, else to 'all' only."""
    scores = {k: Score() for k in (*KINDS, "all")}
    used: set[int] = set()
    for t in video.transitions:
        hits = [c for c in cuts if t.start - TOLERANCE_FRAMES <= c <= t.end + TOLERANCE_FRAMES and c not in used]
        if hits:
            used.add(hits[0])
            scores[t.kind].tp += 1
            scores["all"].tp += 1
            for extra in hits[1:]:
                used.add(extra)
                scores[t.kind].fp += 1
                scores["all"].fp += 1
        else:
            scores[t.kind].fn += 1
            scores["all"].fn += 1
    scores["all"].fp += len([c for c in cuts if c not in used])
    return scores


def add(total: dict[str, Score], more: dict[str, Score]) -> None:
    for k, s in more.items():
        t = total.setdefault(k, Score())
        t.tp, t.fp, t.fn = t.tp + s.tp, t.fp + s.fp, t.fn + s.fn
