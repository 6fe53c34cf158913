"""Shot-boundary detection (clip windows that never cross a boundary are assembled by ``shot_windows``).

The default detector (``CutDetector``, ``clip.cut_detector: sora``) summarises each decoded frame (a
brightness-normalised colour histogram, an 8x8 luma thumbnail normalised for contrast, its mean luma), computes
for every frame a few dozen distances between what comes before it and what comes after it (neighbour to
neighbour, window median to window median at three lengths, across a possible flash, against the motion around
it, plus brightness for fades), and a small network (one hidden layer of 16, ``cut_model.json``) turns them into
the probability that a new shot starts there. A cut is the most likely frame within a window of itself, above
``clip.cut_threshold``. The network and the threshold were fit on the tuning half of ``sora_model.evalset``'s real
footage (``python -m sora_model.evalset.tune_cuts``); ``bench/shots.py`` reports them on the held-out half.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from sora_model.video import shot_detectors
from sora_model.video.clips import ClipConfig
from sora_model.video.frames import cell_means

_BINS = 16
_DETECT_SIDE_PX = 16


DARK_LUMA = 16.0
"""Frames darker than this (mean, 0-255) count as dark: the share of dark frames on each side of a boundary is a
feature (the middle of a fade, a night scene)."""


_CHANNEL_OFFSETS = np.arange(3, dtype=np.uint16) * 256
_LEVELS = np.arange(256, dtype=np.float64)
_LEVELS3 = np.tile(_LEVELS, 3)
_BIN_OFFSETS3 = np.repeat(np.arange(3) * _BINS, 256)


def frame_signatures(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """16-bin histogram per RGB channel (48 values summing to 3) of each frame of a ``[N, H, W, C]`` batch,
    downscaled by striding to about 16 px, with its brightness scaled to a mean of 128 so that flicker and fades
    leave it unchanged (a dark frame's too: its noise is its scene); and whether each frame is dark."""
    n, h, w = frames.shape[:3]
    step = max(1, min(h, w) // _DETECT_SIDE_PX)
    small = frames[:, ::step, ::step, :3]
    pixels = small.shape[1] * small.shape[2]
    # Histogram the raw levels once (256 per channel, 768 per frame), then regroup the levels into 16 bins as
    # the brightness normalisation would move them: a handful of numpy calls per batch, whatever its size.
    frame_offsets = np.arange(n, dtype=np.intp) * 768
    levels = (small + _CHANNEL_OFFSETS).reshape(n, -1) + frame_offsets[:, None]
    raw = np.bincount(levels.ravel(), minlength=768 * n).reshape(n, 768)
    mean = raw @ _LEVELS3 / (3 * pixels)  # integer sums, exact in float64 whatever the order
    dark = mean < DARK_LUMA
    scale = 128.0 / (_BINS * np.maximum(mean, 2.0))
    bins = (np.minimum(_LEVELS3[None, :] * scale[:, None], _BINS - 1).astype(np.intp) + _BIN_OFFSETS3
            + (np.arange(n, dtype=np.intp) * 3 * _BINS)[:, None])
    signatures = np.bincount(bins.ravel(), weights=raw.ravel(), minlength=3 * _BINS * n).reshape(n, 3 * _BINS)
    return signatures / pixels, dark


REF_FPS = 25.0
"""The frame rate the network was fit at: its windows scale with a video's frame rate."""
_WINDOW_REF = 8  # frames at REF_FPS: context and the longest median windows
_GRID = 10  # thumbnail cells a side: the central 8x8 is compared as it is, and shifted by up to a cell
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_MODEL_FILE = "cut_model.json"  # beside this module; read as package data, so from a --py-files archive too


FEATURES: tuple[str, ...] = (
    "d_h1", "d_t1", "h1_ctxmax", "h1_ctxmed", "t1_ctxmax", "t1_ctxmed", "h1_ratio", "t1_ratio", "h1_excess",
    "t1_excess", "hmed1", "tmean1", "hmed2", "tmean2", "hmed4", "tmean4", "ret_h", "ret_t", "ret_h3", "ret_t3",
    "luma_prev", "luma_cur", "luma_min", "luma_max", "dark_before", "dark_after", "inst_before", "inst_after",
    "d_s1", "s1_ctxmax", "s1_ctxmed", "s1_ratio")
"""Every feature ``boundary_features`` computes, in the order a model's inputs follow unless it names its own."""


@dataclass(frozen=True)
class CutModel:
    """The network's weights and the feature order it expects (``cut_model.json``)."""

    features: tuple[str, ...]
    """Names of its inputs (of FEATURES), in order."""
    mean: np.ndarray
    std: np.ndarray
    """Each input is standardised with these (the fitting data's) before the first layer."""
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    """(weights [in, out], bias [out]) per layer; ReLU between them, a sigmoid after the last."""
    threshold: float
    """The probability threshold chosen on the tuning half (``clip.cut_threshold``'s default)."""
    about: str

    def probability(self, x: np.ndarray) -> np.ndarray:
        h = (x - self.mean) / self.std
        for k, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if k < len(self.layers) - 1:
                np.maximum(h, 0, out=h)
        return 1.0 / (1.0 + np.exp(-h[:, 0]))

    @classmethod
    def recorder(cls) -> CutModel:
        """A model of every feature that decides nothing (p = 0.5 everywhere): for recording features."""
        n = len(FEATURES)
        return cls(FEATURES, np.zeros(n, np.float32), np.ones(n, np.float32),
                   ((np.zeros((n, 1), np.float32), np.zeros(1, np.float32)),), 1.0, "records features")

    @classmethod
    def load(cls, path: Path | None = None) -> CutModel:
        """The model in ``path``, or the one shipped beside this module."""
        text = path.read_text() if path else importlib.resources.files(__package__).joinpath(_MODEL_FILE).read_text()
        d = json.loads(text)
        layers = tuple((np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in d["layers"])
        return cls(tuple(d["features"]), np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32),
                   layers, float(d["threshold"]), d.get("about", ""))


@functools.lru_cache(maxsize=1)
def default_model() -> CutModel:
    return CutModel.load()


@dataclass(frozen=True)
class Geometry:
    """The detector's windows in frames at a video's frame rate."""

    lag: int
    """Frames between the two sides of a 'neighbour' distance (1 up to 37 fps)."""
    window: int
    """Context and long-window length."""

    @classmethod
    def at(cls, fps: float) -> Geometry:
        scale = max(fps, 1.0) / REF_FPS
        return cls(lag=max(1, round(scale)), window=max(4, round(_WINDOW_REF * scale)))

    @property
    def behind(self) -> int:
        """Frames before t that t's features read."""
        return self.window + 2 * self.lag

    @property
    def ahead(self) -> int:
        """Frames after t that t's features read."""
        return self.window + 2 * self.lag


def summarise(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame summaries of ``uint8 [N, H, W, 3]`` frames: colour histogram (``frame_signatures``), dark flag,
    mean luma, and the 8x8 luma thumbnail normalised to zero mean and unit contrast (contrast at least 4 levels)."""
    n, h, w = frames.shape[:3]
    hist, dark = frame_signatures(frames)
    luma = frames[..., :3].astype(np.float32) @ _LUMA
    grid = cell_means(luma, _GRID)
    spread = np.maximum(grid.reshape(n, -1).std(axis=1), 4.0)
    grid = (grid - grid.reshape(n, -1).mean(axis=1)[:, None, None]) / spread[:, None, None]
    return {"hist": hist.astype(np.float32), "dark": dark.astype(np.float32),
            "luma": luma.reshape(n, -1).mean(axis=1) / 255.0, "grid": grid.astype(np.float32),
            "thumb": np.ascontiguousarray(grid[:, 1:-1, 1:-1]).reshape(n, -1).astype(np.float32)}


def _hist_d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b).sum(axis=-1) / 6.0  # half the L1 per channel, averaged over 3 channels: 0..1


def _thumb_d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b).mean(axis=-1)


def _shifted_d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest thumbnail distance of ``a``'s centre to ``b``'s grid moved by up to a cell each way: a pan,
    a shake or a slow zoom moves the picture by about that much between neighbours, a cut changes it."""
    centre = a[:, 1:-1, 1:-1]
    return np.min([np.abs(centre - b[:, dy:dy + centre.shape[1], dx:dx + centre.shape[2]]).mean(axis=(1, 2))
                   for dy in range(3) for dx in range(3)], axis=0)


def boundary_features(s: dict[str, np.ndarray], ts: np.ndarray, g: Geometry) -> dict[str, np.ndarray]:
    """Features of a boundary before each frame ``ts`` (indices into the summaries ``s``, which must hold
    ``g.behind`` frames before and ``g.ahead`` after each)."""
    hist, thumb, luma, dark = s["hist"], s["thumb"], s["luma"], s["dark"]
    lag, w = g.lag, g.window
    f: dict[str, np.ndarray] = {}
    # Neighbour distances at every position the context needs, then read around each t.
    lo, hi = int(ts.min()) - w, int(ts.max()) + w + 1
    pos = np.arange(lo, hi)
    near_h = _hist_d(hist[pos - lag], hist[pos])
    near_t = _thumb_d(thumb[pos - lag], thumb[pos])
    near_s = _shifted_d(s["grid"][pos - lag], s["grid"][pos])
    at = ts - lo
    f["d_h1"], f["d_t1"], f["d_s1"] = near_h[at], near_t[at], near_s[at]
    around = np.r_[np.arange(-w, 0), np.arange(1, w + 1)]
    ctx_h, ctx_t = near_h[at[:, None] + around], near_t[at[:, None] + around]
    f["h1_ctxmax"], f["h1_ctxmed"] = ctx_h.max(axis=1), np.median(ctx_h, axis=1)
    f["t1_ctxmax"], f["t1_ctxmed"] = ctx_t.max(axis=1), np.median(ctx_t, axis=1)
    f["h1_ratio"] = np.log((f["d_h1"] + 0.01) / (f["h1_ctxmed"] + 0.01))
    f["t1_ratio"] = np.log((f["d_t1"] + 0.02) / (f["t1_ctxmed"] + 0.02))
    f["h1_excess"], f["t1_excess"] = f["d_h1"] - f["h1_ctxmax"], f["d_t1"] - f["t1_ctxmax"]
    ctx_s = near_s[at[:, None] + around]
    f["s1_ctxmax"], f["s1_ctxmed"] = ctx_s.max(axis=1), np.median(ctx_s, axis=1)
    f["s1_ratio"] = np.log((f["d_s1"] + 0.02) / (f["s1_ctxmed"] + 0.02))
    for k in (1, 2, 4):
        span = max(1, w * k // 4)
        before = ts[:, None] + np.arange(-span, 0)
        after = ts[:, None] + np.arange(0, span)
        f[f"hmed{k}"] = _hist_d(np.median(hist[before], axis=1), np.median(hist[after], axis=1))
        f[f"tmean{k}"] = _thumb_d(thumb[before].mean(axis=1), thumb[after].mean(axis=1))
    # Across a possible flash: skip the frames next to the boundary.
    f["ret_h"], f["ret_t"] = _hist_d(hist[ts - 2 * lag], hist[ts + lag]), _thumb_d(thumb[ts - 2 * lag], thumb[ts + lag])
    f["ret_h3"] = _hist_d(hist[ts - lag], hist[ts + 2 * lag])
    f["ret_t3"] = _thumb_d(thumb[ts - lag], thumb[ts + 2 * lag])
    window = luma[ts[:, None] + np.arange(-w, w)]
    f["luma_prev"], f["luma_cur"] = luma[ts - lag], luma[ts]
    f["luma_min"], f["luma_max"] = window.min(axis=1), window.max(axis=1)
    f["dark_before"] = dark[ts[:, None] + np.arange(-w, 0)].mean(axis=1)
    f["dark_after"] = dark[ts[:, None] + np.arange(0, w)].mean(axis=1)
    f["inst_before"] = np.median(near_t[at[:, None] + np.arange(-w + 1, 0)], axis=1)
    f["inst_after"] = np.median(near_t[at[:, None] + np.arange(1, w)], axis=1)
    return f


class CutDetector:
    """Streaming shot-boundary detector; feed frames in order.

    Frames are summarised and scored ``block`` at a time (a few numpy calls per block, not per frame). ``push``
    returns the frames it has settled, each with its flag (True for the first frame of a new shot); ``finish``
    settles the rest. Frames come out in order, about three windows (``Geometry``) plus a block behind.
    A boundary needs frames on both sides: before the first frame and after the last, the edge frame stands in.
    """

    def __init__(self, fps: float, min_shot_frames: int, threshold: float | None = None,
                 model: CutModel | None = None, block: int = 32, record: bool = False) -> None:
        self.model = model or default_model()
        self.threshold = self.model.threshold if threshold is None else threshold
        self.g = Geometry.at(fps)
        self.min_shot_frames = max(1, min_shot_frames)
        self.block = max(1, block)
        self.cuts: list[int] = []
        self.recorded: list[np.ndarray] = []  # feature rows, when ``record`` (tuning)
        self._record = record
        self._frames: deque[np.ndarray] = deque()  # not yet settled, from index self._settled
        self._fresh: list[np.ndarray] = []
        self._sums: dict[str, np.ndarray] = {}
        self._base = 0  # global index of the first summary held
        self._seen = 0
        self._next_t = 1  # next boundary to score (none before frame 0)
        self._p = np.zeros(0, np.float32)  # probabilities of boundaries [self._p_base, self._next_t)
        self._p_base = 1
        self._next_decide = 1
        self._settled = 0
        self._flagged = 0  # cuts already handed out with their frame

    def _append(self, frames: np.ndarray) -> None:
        new = summarise(frames)
        if not self._sums:
            # Before frame 0, frame 0 stands in.
            pad = self.g.behind
            self._sums = {k: np.concatenate([np.repeat(v[:1], pad, axis=0), v]) for k, v in new.items()}
            self._base = -pad
        else:
            self._sums = {k: np.concatenate([self._sums[k], v]) for k, v in new.items()}
        self._seen += len(frames)

    def _score(self, upto: int) -> None:
        """Probabilities of boundaries [self._next_t, upto)."""
        if upto <= self._next_t:
            return
        ts = np.arange(self._next_t, upto)
        feats = boundary_features(self._sums, ts - self._base, self.g)
        x = np.stack([feats[name] for name in self.model.features], axis=1).astype(np.float32)
        if self._record:
            self.recorded.append(x)
        self._p = np.concatenate([self._p, self.model.probability(x).astype(np.float32)])
        self._next_t = upto

    def _decide(self, upto: int) -> None:
        """Cuts among boundaries [self._next_decide, upto): the most likely within a window of itself."""
        r = self.g.window
        for t in range(self._next_decide, upto):
            p = self._p[t - self._p_base]
            # The video's start counts as a cut: no shot shorter than min_shot_frames at either end of a cut.
            if p >= self.threshold and t - (self.cuts[-1] if self.cuts else 0) >= self.min_shot_frames:
                near = self._p[max(0, t - r - self._p_base):t + r + 1 - self._p_base]
                first_max = max(0, t - r - self._p_base) + int(np.argmax(near))
                if first_max == t - self._p_base:
                    self.cuts.append(t)
        self._next_decide = max(self._next_decide, upto)

    def _release(self, upto: int) -> list[tuple[np.ndarray, bool]]:
        out = []
        while self._frames and self._settled < upto:
            is_cut = self._flagged < len(self.cuts) and self.cuts[self._flagged] == self._settled
            self._flagged += is_cut
            out.append((self._frames.popleft(), is_cut))
            self._settled += 1
        return out

    def _trim(self) -> None:
        keep_sums = self._next_t - self.g.behind - self.g.window - 1
        if keep_sums - self._base > 256:
            self._sums = {k: v[keep_sums - self._base:] for k, v in self._sums.items()}
            self._base = keep_sums
        keep_p = self._next_decide - self.g.window - 1
        if keep_p - self._p_base > 256:
            self._p = self._p[keep_p - self._p_base:]
            self._p_base = keep_p

    def _summarise(self, final: bool) -> list[tuple[np.ndarray, bool]]:
        if self._fresh:
            self._append(np.stack(self._fresh))
            self._fresh.clear()
        if final:
            # After the last frame, the last frame stands in.
            self._sums = {k: np.concatenate([v, np.repeat(v[-1:], self.g.ahead, axis=0)])
                          for k, v in self._sums.items()}
            self._score(self._seen)
            self._p = np.concatenate([self._p, np.zeros(self.g.window + 1, np.float32)])  # nothing after the end
            self._decide(self._seen)
            return self._release(self._seen)
        self._score(self._seen - self.g.ahead)
        self._decide(self._next_t - self.g.window)
        self._trim()
        return self._release(self._next_decide)

    def push(self, frame: np.ndarray) -> list[tuple[np.ndarray, bool]]:
        self._frames.append(frame)
        self._fresh.append(frame)
        return self._summarise(final=False) if len(self._fresh) >= self.block else []

    def finish(self) -> list[tuple[np.ndarray, bool]]:
        return self._summarise(final=True)


def detect_cuts(frames: Iterator[np.ndarray], fps: float, min_shot_frames: int,
                threshold: float | None = None) -> list[int]:
    detector = CutDetector(fps, min_shot_frames, threshold)
    for frame in frames:
        detector.push(frame)
    detector.finish()
    return list(detector.cuts)


class StreamingCutDetector(Protocol):
    """What decoding feeds frames to in ``clip.mode: shots``: frames go in, in order, and come out a little later,
    each with its flag (True for the first frame of a new shot)."""

    cuts: list[int]

    def push(self, frame: np.ndarray) -> list[tuple[np.ndarray, bool]]: ...

    def finish(self) -> list[tuple[np.ndarray, bool]]: ...


def detector_for(cfg: ClipConfig, fps: float) -> StreamingCutDetector:
    """The detector ``clip.mode: shots`` runs at this frame rate (``cfg.cut_detector``)."""
    min_shot_frames = round(cfg.cut_min_shot_s * fps)
    if cfg.cut_detector == "sora":
        return CutDetector(fps, min_shot_frames, cfg.cut_threshold)
    if cfg.cut_detector == "transnetv2":
        return shot_detectors.TransNetCuts(min_shot_frames)
    return shot_detectors.SceneDetectCuts(fps, min_shot_frames, adaptive=cfg.cut_detector == "pyscenedetect_adaptive")
