"""Shot-boundary ground truth by construction: single-shot stretches of real footage (``footage``, one half at a
time) joined by hard cuts, dissolves and fades, with hard negatives inside shots, encoded as h264; and the scoring
of a detector's cut frames against it (precision, recall, F1 per transition kind).

Every transition is placed by this code at a known frame; every stretch it cuts from was eye-checked to be one
shot. Hard negatives inside shots are the footage's own (hand-held motion, zooms, fast motion graphics, a strobe,
old film's flicker, dark scenes) and added ones: flashes (two bright frames), brightness flicker, a slow zoom, and
a dark shot (the picture darkened to a mean luma of about 10-25, as night footage is). One shot in five is followed
by another shot of the same source (similar palettes on both sides of the cut).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sora_model.evalset import footage, truth
from sora_model.evalset.footage import Half
from sora_model.evalset.scoring import Score

KINDS = ("hard", "dissolve", "fade")
"""Transition kinds."""
EVENTS = ("flash", "flicker", "zoom", "dark")
"""Hard negatives added inside shots (never boundaries)."""
TOLERANCE_FRAMES = 2
"""A detected cut counts for a transition when it lies within the transition, or this many frames of it."""
FPS = 25.0
WIDTH_PX, HEIGHT_PX = 640, 360


@dataclass(frozen=True)
class Transition:
    kind: str
    start: int
    """First frame of the transition (for a hard cut: the first frame of the new shot)."""
    end: int
    """Last frame of the transition (== start for a hard cut)."""


@dataclass(frozen=True)
class Event:
    kind: str
    start: int
    end: int
    """Last frame."""


@dataclass
class CutVideo:
    path: str
    fps: float
    frames: int
    transitions: list[Transition] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    shots: list[str] = field(default_factory=list)
    """Where each shot came from: ``file[start:end]`` in the source's frames."""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CutVideo:
        return cls(d["path"], d["fps"], d["frames"], [Transition(**t) for t in d["transitions"]],
                   [Event(**e) for e in d["events"]], list(d["shots"]))


def resize(img: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    """An RGB picture at another size, scaled by FFmpeg (swscale) as a re-encode would scale it."""
    import av

    return av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").to_ndarray(
        format="rgb24", width=width_px, height=height_px)


def _timestamps(path: Path) -> list[float]:
    """Each frame's time in seconds, in decode order (frames without one follow the last at 1/25 s)."""
    import av

    out: list[float] = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        for frame in c.decode(stream):
            out.append(float(frame.time) if frame.time is not None else (out[-1] + 1 / FPS if out else 0.0))
    return out


def pictures_at(path: Path, wanted: set[int], width_px: int, height_px: int) -> dict[int, np.ndarray]:
    """The wanted frames (decode-order indices) as RGB, scaled to cover ``width_px x height_px`` and centre-cropped."""
    import av

    out: dict[int, np.ndarray] = {}
    last = max(wanted)
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(c.streams.video[0])):
            if i in wanted:
                scale = max(width_px / frame.width, height_px / frame.height)
                w, h = max(width_px, round(frame.width * scale)), max(height_px, round(frame.height * scale))
                img = frame.to_ndarray(format="rgb24", width=w, height=h)
                top, left = (h - height_px) // 2, (w - width_px) // 2
                out[i] = img[top:top + height_px, left:left + width_px]
            if i >= last:
                break
    return out


@dataclass(frozen=True)
class ShotStretch:
    source: str
    file: str
    start: int
    end: int
    times: tuple[float, ...]
    """Timestamps of the file's frames ``start..end-1``."""

    @classmethod
    def all_of(cls, sources: Sequence[footage.Source], paths: dict[str, Path]) -> list[ShotStretch]:
        """Every eye-checked single-shot stretch of the sources' files."""
        out = []
        for source in sources:
            for f in source.shot_files:
                times = _timestamps(paths[f.name])
                out.extend(cls(source.name, f.name, a, b, tuple(times[a:b])) for a, b in f.shots)
        return out

    def resampled(self, fps: float) -> list[int]:
        """Source frame indices of the shot at ``fps``: the last frame shown at each output instant."""
        t0, t1 = self.times[0], self.times[-1] + (self.times[-1] - self.times[-2] if len(self.times) > 1 else 0.04)
        times = np.asarray(self.times)
        n = int((t1 - t0) * fps)
        return [self.start + int(np.searchsorted(times, t0 + k / fps, side="right")) - 1 for k in range(n)]


@dataclass
class _Segment:
    shot: ShotStretch
    indices: list[int]
    """Source frame indices, one per output frame."""
    events: list[tuple[str, int, int]] = field(default_factory=list)
    """(kind, first, last) frame offsets inside the segment."""
    gain: np.ndarray | None = None
    """Per-frame brightness gain (flicker, darkening), None for 1."""
    zoom: tuple[float, float] | None = None
    """Crop factor at the first and last frame of a slow zoom."""
    flash: int | None = None


def _plan(shots: list[ShotStretch], rng: np.random.Generator, seconds: float, fps: float) -> list[_Segment]:
    by_source: dict[str, list[ShotStretch]] = {}
    for s in shots:
        by_source.setdefault(s.source, []).append(s)
    names = sorted(by_source)
    segments: list[_Segment] = []
    total = 0
    while total < seconds * fps:
        prev = segments[-1].shot if segments else None
        same = prev is not None and rng.random() < 0.2 and len(by_source[prev.source]) > 1
        source = prev.source if same else str(rng.choice([n for n in names if prev is None or n != prev.source]))
        shot = by_source[source][int(rng.integers(len(by_source[source])))]
        if shot == prev:
            continue
        frames = shot.resampled(fps)
        want = int(rng.integers(int(1.2 * fps), int(4.0 * fps)))
        if len(frames) < fps:
            continue
        start = int(rng.integers(0, max(1, len(frames) - want + 1)))
        seg = _Segment(shot, frames[start:start + want])
        n = len(seg.indices)
        dark_before = bool(segments) and segments[-1].gain is not None and segments[-1].gain.mean() < 0.5
        roll = rng.random()
        if roll < (0.5 if dark_before else 0.15):
            seg.gain = np.full(n, rng.uniform(0.1, 0.22))
            seg.events.append(("dark", 0, n - 1))
        elif roll < 0.27:
            seg.gain = rng.uniform(0.75, 1.25, size=n)
            seg.events.append(("flicker", 0, n - 1))
        elif roll < 0.40:
            z0, z1 = (1.0, rng.uniform(1.25, 1.6)) if rng.random() < 0.5 else (rng.uniform(1.25, 1.6), 1.0)
            seg.zoom = (z0, z1)
            seg.events.append(("zoom", 0, n - 1))
        if n > 2 * fps and rng.random() < 0.25:
            at = int(rng.integers(int(0.5 * fps), n - int(0.5 * fps)))
            seg.flash = at
            seg.events.append(("flash", at, at + 1))
        segments.append(seg)
        total += n
    return segments


def _render(seg: _Segment, pictures: dict[int, np.ndarray]) -> list[np.ndarray]:
    out = []
    n = len(seg.indices)
    for k, i in enumerate(seg.indices):
        img = pictures[i]
        if seg.zoom is not None:
            z = seg.zoom[0] + (seg.zoom[1] - seg.zoom[0]) * k / max(1, n - 1)
            h, w = img.shape[:2]
            ch, cw = int(h / z), int(w / z)
            top, left = (h - ch) // 2, (w - cw) // 2
            img = resize(img[top:top + ch, left:left + cw], w, h)
        if seg.gain is not None:
            img = np.clip(img * seg.gain[k], 0, 255).astype(np.uint8)
        if seg.flash is not None and seg.flash <= k <= seg.flash + 1:
            img = np.clip(img.astype(np.int16) + 140, 0, 255).astype(np.uint8)
        out.append(img)
    return out


def build(half: Half, out_dir: Path, videos: int = 12, seconds: float = 40.0, seed: int = 0,
          width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX, fps: float = FPS,
          only: Sequence[str] = ()) -> list[CutVideo]:
    """Write ``videos`` test videos of about ``seconds`` each under ``out_dir`` from the sources of ``half`` (only
    those named in ``only``, when given: to cross-validate inside the tuning half), and ``truth.json`` beside them
    (the returned list)."""
    from sora_model.video.writers import encode_frames

    sources = [s for s in footage.sources(half) if not only or s.name in only]
    if len(sources) < 2:
        raise ValueError(f"a shot set needs two sources or more, got {[s.name for s in sources]}")
    paths = footage.fetch([f for s in sources for f in s.shot_files])
    shots = ShotStretch.all_of(sources, paths)
    rng = np.random.default_rng(seed)
    plans = [_plan(shots, rng, seconds, fps) for _ in range(videos)]
    # Decode each file once, only the frames the plans use.
    wanted: dict[str, set[int]] = {}
    for plan in plans:
        for seg in plan:
            wanted.setdefault(seg.shot.file, set()).update(seg.indices)
    pictures: dict[str, dict[int, np.ndarray]] = {
        name: pictures_at(paths[name], idx, width_px, height_px) for name, idx in wanted.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    result = []
    for v, plan in enumerate(plans):
        cut = CutVideo(path=str(out_dir / f"{half}_{v:02d}.mp4"), fps=fps, frames=0)
        frames: list[np.ndarray] = []
        for seg in plan:
            seg_frames = _render(seg, pictures[seg.shot.file])
            offset = _join(frames, seg_frames, cut, rng) if frames else 0
            if not offset:
                frames.extend(seg_frames)
            for kind, a, b in seg.events:
                cut.events.append(Event(kind, offset + a, offset + b))
            cut.shots.append(f"{seg.shot.file}[{seg.indices[0]}:{seg.indices[-1] + 1}]")
        cut.frames = len(frames)
        encode_frames(Path(cut.path), iter(frames), width_px, height_px, int(fps), False)
        result.append(cut)
    truth.write_truth(out_dir, [c.as_dict() for c in result])
    return result


def _join(frames: list[np.ndarray], seg: list[np.ndarray], cut: CutVideo, rng: np.random.Generator) -> int:
    """Append ``seg`` to ``frames`` through a random transition (recorded in ``cut``); the segment's first frame's
    index in the output."""
    kind = str(rng.choice(KINDS, p=[0.5, 0.25, 0.25]))
    room = min(len(frames), len(seg)) // 2
    if kind == "dissolve" and room >= 10:
        n = int(rng.integers(10, min(30, room) + 1))
        first = len(frames) - n
        for k, a in enumerate(np.linspace(0, 1, n + 2)[1:-1]):
            frames[first + k] = ((1 - a) * frames[first + k] + a * seg[k]).astype(np.uint8)
        cut.transitions.append(Transition("dissolve", first, first + n - 1))
        frames.extend(seg[n:])
        return first
    if kind == "fade" and room >= 6:
        n_out, n_in = (int(rng.integers(6, min(15, room) + 1)) for _ in range(2))
        for k, a in enumerate(np.linspace(1, 0, n_out + 1)[1:]):
            frames[-n_out + k] = (frames[-n_out + k] * a).astype(np.uint8)
        seg = list(seg)
        for k, a in enumerate(np.linspace(0, 1, n_in + 1)[:-1]):
            seg[k] = (seg[k] * a).astype(np.uint8)
        cut.transitions.append(Transition("fade", len(frames) - n_out, len(frames) + n_in - 1))
        first = len(frames)
        frames.extend(seg)
        return first
    cut.transitions.append(Transition("hard", len(frames), len(frames)))
    first = len(frames)
    frames.extend(seg)
    return first


def load(out_dir: Path) -> list[CutVideo]:
    """The videos ``build`` wrote under ``out_dir``."""
    return [CutVideo.from_dict(d) for d in truth.read_truth(out_dir)]


SET_VERSION = 1
"""Part of the cache key: raise it when ``build`` or the catalogue's shots change what a set holds."""


def cached(half: Half, videos: int = 12, seconds: float = 40.0, seed: int = 0, only: Sequence[str] = (),
           cache: Path | None = None) -> list[CutVideo]:
    """``build``'s videos from a cache beside the footage's, built the first time (about 4 minutes a half on this
    2-core machine: the deterministic x264 encoder is the slow part)."""
    subset = "-" + hashlib.sha256(",".join(sorted(only)).encode()).hexdigest()[:8] if only else ""
    name = f"shots-v{SET_VERSION}-{half}{subset}-{videos}x{seconds:g}s-seed{seed}"
    return load(truth.cached_set(name, lambda folder: build(half, folder, videos=videos, seconds=seconds,
                                                              seed=seed, only=only), cache))


def decode(path: str, side_px: int) -> tuple[np.ndarray, float]:
    """Every frame as curate decodes it for a ``side_px`` square (decord, short side scaled in the decoder, centre
    crop, one thread), and the decoding's wall time in seconds (the video's header read not counted)."""
    import time

    import decord

    from sora_model.video.frames import center_crop, resize_dims

    probe = decord.VideoReader(path, num_threads=1)
    h, w = probe[0].shape[:2]
    del probe
    start = time.perf_counter()
    width, height = resize_dims(w, h, side_px, side_px)
    reader = decord.VideoReader(path, width=width, height=height, num_threads=1)
    frames = np.stack([center_crop(reader.next().asnumpy(), side_px, side_px) for _ in range(len(reader))])
    return frames, time.perf_counter() - start


def score(video: CutVideo, cuts: Sequence[int]) -> dict[str, Score]:
    """Per transition kind, per hard-negative event and 'all': a transition is found by the first detected cut
    within its span (± tolerance); any other detected cut (a second one in the same transition, one in a flash,
    in flicker, anywhere inside a shot) is a false positive, charged to 'all' and to the kind of the transition
    or the event it fell in."""
    scores = {k: Score() for k in (*KINDS, *EVENTS, "all")}
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
    for c in cuts:
        if c in used:
            continue
        scores["all"].fp += 1
        for e in video.events:
            if e.start - TOLERANCE_FRAMES <= c <= e.end + TOLERANCE_FRAMES:
                scores[e.kind].fp += 1
                break
    return scores


def add(total: dict[str, Score], more: dict[str, Score]) -> None:
    for k, s in more.items():
        total.setdefault(k, Score()).add(s)
