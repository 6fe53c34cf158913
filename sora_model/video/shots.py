"""Shot-boundary detection and single-pass assembly of clip windows that never cross a boundary.

The detector compares the scene over a short window before each frame with the scene over the window after it,
each summarised by the per-bin median of brightness-normalised colour histograms of downscaled frames (about
16 px a side): hard cuts, dissolves and fades change the colour distribution between the two windows, motion,
flicker and flashes inside a shot do not (measured in bench/shots.py on real footage).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Protocol

import numpy as np

from sora_model.video import shot_detectors
from sora_model.video.clips import ClipConfig, Picker, Span, WindowFrames

_BINS = 16
_DETECT_SIDE_PX = 16


DARK_LUMA = 16.0
"""Frames darker than this (mean, 0-255) show no scene: the middle of a fade, a black frame."""


_CHANNEL_OFFSETS = np.arange(3, dtype=np.uint16) * 256
_LEVELS = np.arange(256, dtype=np.float64)
_LEVELS3 = np.tile(_LEVELS, 3)
_BIN_OFFSETS3 = np.repeat(np.arange(3) * _BINS, 256)


def frame_signature(frame: np.ndarray) -> np.ndarray | None:
    """16-bin histogram per RGB channel (flattened, 48 values summing to 3) of a frame downscaled (by striding)
    to about 16 px, with its brightness scaled to a mean of 128 so flicker and fades leave it unchanged; None for
    a dark frame."""
    signatures, dark = frame_signatures(frame[None])
    return None if dark[0] else signatures[0]


def frame_signatures(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``frame_signature`` of each frame of a ``[N, H, W, C]`` batch in one go: (signatures ``[N, 48]``, dark
    ``[N]``); a dark frame's row is meaningless."""
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
    scale = 128.0 / (_BINS * np.where(dark, 128.0, mean))
    bins = (np.minimum(_LEVELS3[None, :] * scale[:, None], _BINS - 1).astype(np.intp) + _BIN_OFFSETS3
            + (np.arange(n, dtype=np.intp) * 3 * _BINS)[:, None])
    signatures = np.bincount(bins.ravel(), weights=raw.ravel(), minlength=3 * _BINS * n).reshape(n, 3 * _BINS)
    return signatures / pixels, dark


def signature_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over channels of half the L1 distance between histograms: 0 identical, 1 disjoint."""
    return float(np.abs(a - b).sum() / (len(a) // _BINS) / 2)


class CutDetector:
    """Streaming shot-boundary detector with a short lookahead; feed frames in order.

    Each frame becomes a brightness-normalised colour histogram (so flicker and fades do not move it) unless it
    is nearly black. At every frame t the per-bin median of the ``window`` histograms before t is compared with
    the median of the ``window`` after t: inside a shot both sides show the same scene (motion averages out, a
    flash of one or two frames is outvoted), across a hard cut, a dissolve or a fade they show two scenes. A
    boundary is the highest distance above ``threshold`` within ``window`` frames of itself, and at least
    ``min_shot_frames`` after the previous one: one cut per transition, however gradual.

    ``push`` returns the frames it has settled, each with its flag (True for the first frame of a new shot);
    ``finish`` settles the rest. Frames come out in order, about ``2 * window`` frames behind, and in blocks:
    frames are summarised and compared ``block`` at a time (a few numpy calls per block instead of per frame,
    which at the pipeline's small frame sizes cost as much as decoding), with the same cuts as one at a time.
    """

    def __init__(self, threshold: float, min_shot_frames: int, window: int = 8, block: int = 32) -> None:
        self.threshold = threshold
        self.min_shot_frames = max(1, min_shot_frames)
        self.window = max(2, window)
        self.block = max(1, block)
        # Signatures of the last frames, by index % size: the oldest a block's distances read is 2 windows before
        # its first due frame.
        size = 4 * self.window + self.block
        self._ring = np.zeros((size, 3 * _BINS))
        self._dark = np.zeros(size, dtype=bool)
        self._mid = ((self.window - 1) // 2, self.window // 2)  # the median's middle ranks
        self._span = np.arange(2 * self.window)
        self._frames: deque[np.ndarray] = deque()  # frames not yet settled, from index self._settled
        self._fresh: list[np.ndarray] = []  # frames pushed since the last block was summarised
        self._settled = 0
        self._seen = 0
        self._next_d = self.window  # next t whose distance is due
        self._pending: tuple[int, float] | None = None
        self._last_cut = -(10 ** 9)
        self.cuts: list[int] = []

    def _median(self, a: int, b: int) -> np.ndarray | None:
        rows = np.arange(max(0, a), b) % len(self._ring)
        rows = rows[~self._dark[rows]]
        return np.median(self._ring[rows], axis=0) if len(rows) else None

    def _distance(self, t: int, end: int) -> float:
        """Distance between the scene over [t - window, t) and over [t, end); 0 when either side is all dark."""
        before, after = self._median(t - self.window, t), self._median(t, end)
        if before is None or after is None:
            return 0.0
        return signature_distance(before, after)

    def _full_distances(self, ts: np.ndarray) -> np.ndarray:
        """``_distance(t, t + window)`` for each t whose windows both lie in the ring."""
        w = self.window
        rows = (ts[:, None] + (self._span - w)[None, :]) % len(self._ring)
        out = np.empty(len(ts))
        # The usual case, both medians of every t in one partition: full windows with no dark frame.
        fast = (ts >= w) & ~self._dark[rows].any(axis=1)
        if fast.any():
            both = np.partition(self._ring[rows[fast]].reshape(-1, 2, w, 3 * _BINS), self._mid, axis=2)
            med = both[:, :, self._mid[0]] + both[:, :, self._mid[1]]  # twice the medians
            # signature_distance of the medians: the L1 of twice the medians over 2 * 2, per channel (3)
            out[fast] = np.abs(med[:, 0] - med[:, 1]).sum(axis=1) / (4 * 3)
        for i in np.flatnonzero(~fast):
            out[i] = self._distance(int(ts[i]), int(ts[i]) + w)
        return out

    def _consider(self, t: int, d: float) -> None:
        if self._pending is not None and t - self._pending[0] > self.window:
            self._emit()
        if d > self.threshold and t - self._last_cut >= self.min_shot_frames:
            if self._pending is None or d > self._pending[1]:
                self._pending = (t, d)

    def _emit(self) -> None:
        t, _ = self._pending
        self._pending = None
        if t - self._last_cut >= self.min_shot_frames:
            self.cuts.append(t)
            self._last_cut = t

    def _release(self, upto: int) -> list[tuple[np.ndarray, bool]]:
        out = []
        while self._frames and self._settled < upto:
            out.append((self._frames.popleft(), self._settled == self._last_cut))
            self._settled += 1
        return out

    def _settle_upto(self) -> int:
        # A frame is settled once no pending or later candidate can become a cut at or before it.
        upto = self._next_d - self.window
        return min(upto, self._pending[0]) if self._pending is not None else upto

    def _summarise(self) -> list[tuple[np.ndarray, bool]]:
        """Signatures of the fresh frames, then every distance they make due, in order."""
        if not self._fresh:
            return []
        signatures, dark = frame_signatures(np.stack(self._fresh))
        slots = (self._seen + np.arange(len(self._fresh))) % len(self._ring)
        self._ring[slots] = signatures
        self._dark[slots] = dark
        self._seen += len(self._fresh)
        self._fresh.clear()
        ts = np.arange(self._next_d, self._seen - self.window + 1)
        out: list[tuple[np.ndarray, bool]] = []
        for t, d in zip(ts.tolist(), self._full_distances(ts).tolist()):
            self._consider(t, d)
            self._next_d = t + 1
            out.extend(self._release(self._settle_upto()))  # at once: a later cut in the block moves _last_cut
        return out

    def push(self, frame: np.ndarray) -> list[tuple[np.ndarray, bool]]:
        self._frames.append(frame)
        self._fresh.append(frame)
        return self._summarise() if len(self._fresh) >= self.block else []

    def finish(self) -> list[tuple[np.ndarray, bool]]:
        out = self._summarise()
        while self._next_d < self._seen:
            end = min(self._seen, self._next_d + self.window)
            if end - self._next_d >= max(2, self.window // 2):
                self._consider(self._next_d, self._distance(self._next_d, end))
            self._next_d += 1
        if self._pending is not None:
            self._emit()
        return out + self._release(self._seen)


def detect_cuts(frames: Iterator[np.ndarray], threshold: float, min_shot_frames: int,
                window: int = 8) -> list[int]:
    detector = CutDetector(threshold, min_shot_frames, window)
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
        return CutDetector(cfg.cut_threshold, min_shot_frames, max(2, round(cfg.cut_window_s * fps)))
    if cfg.cut_detector == "transnetv2":
        return shot_detectors.TransNetCuts(min_shot_frames)
    return shot_detectors.SceneDetectCuts(fps, min_shot_frames, adaptive=cfg.cut_detector == "pyscenedetect_adaptive")


class ShotWindows:
    """Builds clip windows from a stream of frames and cut flags in one pass, holding at most one window.

    Produces exactly ``clips.shot_spans(n, fps, cuts, cfg)``; for each finished span, ``pick(span)`` names the
    frame indices (inside the span) to hand out, one array per output row.
    """

    def __init__(self, win: WindowFrames, pick: Picker) -> None:
        self.win = win
        self.pick = pick
        self._frames: dict[int, np.ndarray] = {}
        self._shot_start = 0
        self._next = 0  # index of the next frame to arrive
        self._pruned_to = 0  # frames below this index have been dropped
        self.cuts: list[int] = []

    def _open_starts(self) -> range:
        # Window starts of the current shot that have begun but not yet been emitted.
        return range(self._shot_start, self._next, self.win.stride)

    def _emit(self, span: Span) -> tuple[Span, list[np.ndarray]]:
        rows = [np.stack([self._frames[int(i)] for i in idx]) for idx in self.pick(span)]
        return span, rows

    def _close_shot(self, end: int) -> Iterator[tuple[Span, list[np.ndarray]]]:
        for s in self._open_starts():
            if s + self.win.length > end and end - s >= self.win.min_length:
                yield self._emit(Span(s, end))
        self._frames.clear()
        self._pruned_to = end

    def push(self, frame: np.ndarray, is_cut: bool) -> Iterator[tuple[Span, list[np.ndarray]]]:
        i = self._next
        if is_cut and i > self._shot_start:
            yield from self._close_shot(i)
            self._shot_start = i
            self.cuts.append(i)
        self._frames[i] = frame
        self._next = i + 1
        # A window that starts at s and is full at frame i is complete now.
        s = i + 1 - self.win.length
        if s >= self._shot_start and (s - self._shot_start) % self.win.stride == 0:
            yield self._emit(Span(s, i + 1))
        # Drop frames no open or future window of this shot can use.
        first_needed = self._first_needed()
        for j in range(self._pruned_to, first_needed):
            self._frames.pop(j, None)
        self._pruned_to = max(self._pruned_to, first_needed)

    @property
    def frames_seen(self) -> int:
        return self._next

    def _first_needed(self) -> int:
        # The oldest window still open: started within the last `length` frames, on the stride grid.
        earliest = max(self._shot_start, self._next - self.win.length + 1)
        offset = (earliest - self._shot_start) % self.win.stride
        return earliest + (self.win.stride - offset) % self.win.stride

    def finish(self) -> Iterator[tuple[Span, list[np.ndarray]]]:
        yield from self._close_shot(self._next)
