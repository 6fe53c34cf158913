"""Clip windows that never cross a shot boundary, assembled in one pass over decoded frames and their cut flags,
holding at most one window of frames."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sora_model.video.clips import Picker, Span, WindowFrames


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
