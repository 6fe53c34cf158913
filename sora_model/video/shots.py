"""Hard-cut detection and single-pass assembly of clip windows that never cross a cut.

The detector compares per-channel colour histograms of consecutive downscaled frames (about 16 px a side): a hard cut changes the
whole colour distribution at once, while motion inside a shot moves pixels without changing it much.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sora_model.video.clips import Picker, Span, WindowFrames

_BINS = 16
_DETECT_SIDE_PX = 16


def frame_signature(frame: np.ndarray) -> np.ndarray:
    """Normalised 16-bin histogram per RGB channel of a frame downscaled (by striding) to about 16 px."""
    h, w = frame.shape[:2]
    step = max(1, min(h, w) // _DETECT_SIDE_PX)
    channels = frame.shape[2]
    small = frame[::step, ::step]
    # One bincount for all channels: channel c's 16 bins sit at offset 16 * c (fits in uint8).
    bins = (small >> 4) + np.arange(0, _BINS * channels, _BINS, dtype=np.uint8)
    hist = np.bincount(bins.ravel(), minlength=_BINS * channels).reshape(channels, _BINS)
    return hist / (small.shape[0] * small.shape[1])


def signature_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over channels of half the L1 distance between histograms: 0 identical, 1 disjoint."""
    return float(np.abs(a - b).sum(axis=1).mean() / 2)


class CutDetector:
    """Streaming detector: feed frames in order, get True for the first frame of each new shot."""

    def __init__(self, threshold: float, min_shot_frames: int) -> None:
        self.threshold = threshold
        self.min_shot_frames = max(1, min_shot_frames)
        self._prev: np.ndarray | None = None
        self._since_cut = 0

    def push(self, frame: np.ndarray) -> bool:
        sig = frame_signature(frame)
        is_cut = (self._prev is not None and self._since_cut >= self.min_shot_frames
                  and signature_distance(self._prev, sig) > self.threshold)
        self._prev = sig
        self._since_cut = 1 if is_cut else self._since_cut + 1
        return is_cut


def detect_cuts(frames: Iterator[np.ndarray], threshold: float, min_shot_frames: int) -> list[int]:
    detector = CutDetector(threshold, min_shot_frames)
    return [i for i, frame in enumerate(frames) if detector.push(frame)]


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
