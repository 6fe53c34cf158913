"""Perceptual signatures of whole videos, for near-duplicate detection: a 64-bit DCT hash (pHash) of a frame every
``sample_every_s``, taken after black bars are cut off and only where the picture has contrast.

A re-encode, another codec, a resize, a small crop, a trim or a speed change keeps the pictures, hence hashes
within a few bits of the original's at nearby instants; sampling by time (not keyframes) makes that hold whatever
keyframes either encoder chose. Bars are cut first, so a letterboxed copy hashes like its original. A black, blank
or near-uniform frame (an intro, a fade, a flash) shows nothing that tells one video from another: it gets no
hash, so two distinct videos never match on it. Two videos are near-duplicates when most hashes of the shorter
signature find a close hash in the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

HASH_SIDE = 32
"""Frames are reduced to HASH_SIDE x HASH_SIDE grey (area averages) before the DCT."""
_LOW = 8  # the 8x8 lowest frequencies (bar the DC term) make the hash
_GREY_SIDE = 96  # the decoder scales each sampled frame to this square before bars are found
MIN_CONTRAST = 6.0
"""A sampled frame whose HASH_SIDE x HASH_SIDE grey picture varies less than this (standard deviation, 0-255) is
blank, uniform or nearly so, and gets no hash."""
_BAR_LUMA, _BAR_FLAT = 24.0, 6.0  # a bar row: darker than this on average and flatter than this
_MAX_BARS = 0.35  # bars cover at most this share of either side; darker pictures are content, not bars


SIGNATURE_VERSION = 2
"""Raised whenever ``video_signature`` hashes other frames or hashes them otherwise: stored signatures of an
older version are then computed again."""


@dataclass(frozen=True, kw_only=True)
class NearDupConfig:
    enabled: bool = True
    """Find near-duplicate videos (re-encoded, resized, cropped, trimmed, sped up, another bitrate or codec, bars
    added, damaged) and reject all but one."""
    sample_every_s: float = 0.25
    """A frame is hashed every this many seconds (every frame is decoded: the probe stage's dearest work)."""
    max_frames: int = 256
    """Hashes kept per video (spread evenly over it)."""
    max_distance_bits: int = 10
    """Two frame hashes match when they differ in at most this many of their 64 bits."""
    min_match_frac: float = 0.5
    """Videos are near-duplicates when at least this share of the shorter signature's hashes match one of the
    other's (and at least ``min_matches`` do). Set on the tuning half of the evaluation footage (docs/benchmarks.md,
    near-duplicates)."""
    min_matches: int = 2
    """Matching hashes a pair needs whatever the share: one frame alike is no evidence that two videos are."""
    bands: int = 2
    """LSH bands: videos become candidates when an anchor hash of one (see ``band_frames``) shares a whole
    64/bands-bit band with an anchor hash of the other; each candidate pair is then compared hash by hash. A copy
    has many frames whose hashes differ in a bit or two, so whole 32-bit halves meet; unrelated videos meet by
    chance about once in 2^31 anchor pairs, so the comparisons grow with the corpus, not its square (measured in
    bench/near_dups.py). Narrower bands (4, 8) find a little more and cost quadratically more."""
    band_frames: int = 32
    """Anchors per video for the LSH bands: this many of its hashes, spread evenly."""
    driver_max_videos: int = 100_000
    """When this run's new files number at most this many, candidates are found on the driver: the lake's side
    from its index of videos by band (``video_bands``: a few row groups whatever the lake's size, no Spark job),
    the pairs in numpy; above it, by the LSH join in Spark over every video of the dataset. Both find the same
    candidates, and the driver holds them either way (the join's are collected). 0: always Spark."""

    @property
    def band_layout(self) -> BandLayout:
        return BandLayout(self.bands, self.band_frames)

    @property
    def signature_settings(self) -> str:
        """What decides a video's signature, as stored beside it in the ``files`` table: another run reuses the
        signature only when its settings read the same (the matching settings only compare signatures)."""
        return f"phash-v{SIGNATURE_VERSION} every {self.sample_every_s:g}s max {self.max_frames}"

    def __post_init__(self) -> None:
        if self.max_frames < 1 or not 0 <= self.max_distance_bits <= 64:
            raise ValueError(f"max_frames must be >= 1 and max_distance_bits in [0, 64], got "
                             f"{self.max_frames}, {self.max_distance_bits}")
        if self.sample_every_s <= 0:
            raise ValueError(f"sample_every_s must be > 0, got {self.sample_every_s}")
        if not 0 < self.min_match_frac <= 1:
            raise ValueError(f"min_match_frac must be in (0, 1], got {self.min_match_frac}")
        if self.driver_max_videos < 0:
            raise ValueError(f"driver_max_videos must be >= 0, got {self.driver_max_videos}")
        if self.bands not in (1, 2, 4, 8, 16, 32, 64):
            raise ValueError(f"bands must divide 64 (1, 2, 4, ..., 64), got {self.bands}")
        if self.min_matches < 1:
            raise ValueError(f"min_matches must be >= 1, got {self.min_matches}")
        if self.band_frames < 1:
            raise ValueError(f"band_frames must be >= 1, got {self.band_frames}")


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    m = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


_DCT = _dct_matrix(HASH_SIDE)


def phash(grey: np.ndarray) -> int:
    """64-bit perceptual hash of a ``HASH_SIDE`` x ``HASH_SIDE`` grey picture (signed int64 range, for Arrow)."""
    coeffs = (_DCT @ grey.astype(np.float64) @ _DCT.T)[:_LOW, :_LOW].ravel()
    low = coeffs[1:]  # the DC term says only how bright the picture is
    bits = np.concatenate([[False], low > np.median(low)])
    value = int(np.packbits(bits).view(">u8")[0])
    return value - (1 << 64) if value >= 1 << 63 else value


def _area(grey: np.ndarray, side: int) -> np.ndarray:
    """Area-average resize of a 2-D picture to ``side`` x ``side`` (summed-area table: exact block means)."""
    h, w = grey.shape
    ys, xs = (np.arange(side + 1) * h) // side, (np.arange(side + 1) * w) // side
    ys[1:] = np.maximum(ys[1:], ys[:-1] + 1)
    xs[1:] = np.maximum(xs[1:], xs[:-1] + 1)
    ys, xs = np.minimum(ys, h), np.minimum(xs, w)
    c = np.pad(grey.astype(np.float64), ((1, 0), (1, 0))).cumsum(axis=0).cumsum(axis=1)
    sums = c[ys[1:]][:, xs[1:]] - c[ys[:-1]][:, xs[1:]] - c[ys[1:]][:, xs[:-1]] + c[ys[:-1]][:, xs[:-1]]
    return sums / np.maximum((ys[1:] - ys[:-1])[:, None] * (xs[1:] - xs[:-1])[None, :], 1)


def _without_bars(grey: np.ndarray) -> np.ndarray:
    """The picture inside black bars (letterbox, pillarbox: dark and flat rows or columns at its edges)."""
    h, w = grey.shape
    rows = (grey.mean(axis=1) < _BAR_LUMA) & (grey.std(axis=1) < _BAR_FLAT)
    cols = (grey.mean(axis=0) < _BAR_LUMA) & (grey.std(axis=0) < _BAR_FLAT)

    def inner(bar: np.ndarray) -> tuple[int, int]:
        if bar.all():
            return 0, len(bar)
        return int(np.argmin(bar)), len(bar) - int(np.argmin(bar[::-1]))

    top, bottom = inner(rows)
    left, right = inner(cols)
    if bottom - top < h * (1 - 2 * _MAX_BARS) or right - left < w * (1 - 2 * _MAX_BARS):
        return grey
    return grey[top:bottom, left:right]


def frame_hash(grey: np.ndarray) -> int | None:
    """The pHash of a grey frame without its bars, or None when the picture has no contrast to hash."""
    small = _area(_without_bars(grey), HASH_SIDE)
    return phash(small) if small.std() >= MIN_CONTRAST else None


def evenly(items: Sequence, count: int) -> list:
    """At most ``count`` of ``items``, spread evenly, first and last kept: index ``(i * (n - 1)) // (count - 1)``
    (integer arithmetic, so Spark's SQL picks the same ones)."""
    n = len(items)
    if n <= count:
        return list(items)
    if count == 1:
        return [items[0]]
    return [items[(i * (n - 1)) // (count - 1)] for i in range(count)]


def video_signature(path: str, cfg: NearDupConfig) -> list[int]:
    """Hashes of the frames at every ``sample_every_s`` with contrast (at most ``max_frames``, evenly spread); []
    when none decodes. A packet that does not decode is skipped, so a damaged stretch costs only its frames."""
    import av

    hashes: list[int] = []
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 25)
            due, count = float("-inf"), 0
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except (av.FFmpegError, ValueError):
                    continue
                for frame in frames:
                    t = float(frame.time) if frame.time is not None else count / rate
                    count += 1
                    if t < due:
                        continue
                    due = t + cfg.sample_every_s
                    h = frame_hash(frame.to_ndarray(format="gray", width=_GREY_SIDE, height=_GREY_SIDE))
                    if h is not None:
                        hashes.append(h)
    except (av.FFmpegError, ValueError, OSError, IndexError):
        pass
    return evenly(hashes, cfg.max_frames)


def bands(h: int, count: int) -> list[int]:
    """The hash cut into ``count`` bands, each tagged with its position: (position << 32) | band value."""
    width = 64 // count
    u = h & ((1 << 64) - 1)
    return [(i << 32) | ((u >> (i * width)) & ((1 << width) - 1)) for i in range(count)]


def match_frac(a: list[int], b: list[int], max_distance_bits: int) -> float:
    """Share of the shorter list's hashes with a hash of the other within ``max_distance_bits``."""
    if not a or not b:
        return 0.0
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    x = np.array(short, dtype=np.int64).view(np.uint64)[:, None]
    y = np.array(long, dtype=np.int64).view(np.uint64)[None, :]
    diff = x ^ y
    dist = np.unpackbits(diff.view(np.uint8).reshape(*diff.shape, 8), axis=-1).sum(axis=-1)
    return float((dist.min(axis=1) <= max_distance_bits).mean())


def similarity(a: Sequence[int], b: Sequence[int], cfg: NearDupConfig) -> float:
    """``match_frac`` of two signatures, or 0 when fewer than ``cfg.min_matches`` hashes match."""
    if min(len(a), len(b)) < cfg.min_matches:
        return 0.0
    frac = match_frac(list(a), list(b), cfg.max_distance_bits)
    return frac if frac * min(len(a), len(b)) >= cfg.min_matches - 1e-9 else 0.0


@dataclass(frozen=True)
class BandLayout:
    """How a signature becomes LSH band keys: ``bands`` bands of each of ``anchors`` hashes (``NearDupConfig``'s
    ``bands`` and ``band_frames``). The lake's index of videos by band is kept per layout."""

    bands: int
    anchors: int

    @property
    def text(self) -> str:
        return f"bands={self.bands},anchors={self.anchors}"


@dataclass(frozen=True)
class SignedVideo:
    """A video as near-duplicate detection sees it: its frame hashes and what ranks it against a copy."""

    video_id: str
    uri: str
    signature: tuple[int, ...]
    in_lake: bool
    labelled: bool
    duration_s: float
    pixels: int

    @property
    def rank(self) -> tuple:
        """Smaller is better: a lake video first, then a labelled one, the longer, the larger, the smaller URI."""
        return (not self.in_lake, not self.labelled, -self.duration_s, -self.pixels, self.uri)


def choose_near_duplicates(pairs: Iterable[tuple[str, str]], videos: Mapping[str, SignedVideo],
                           cfg: NearDupConfig) -> dict[str, tuple[SignedVideo, float]]:
    """Of the candidate pairs (video ids), the videos to reject: loser id -> (the best-ranked video it matches,
    the match fraction). Lake videos are never rejected; chains are not merged: a video is rejected when any
    better-ranked video matches it."""
    best: dict[str, tuple[SignedVideo, float]] = {}
    for x_id, y_id in pairs:
        x, y = videos[x_id], videos[y_id]
        frac = similarity(x.signature, y.signature, cfg)
        if frac < cfg.min_match_frac:
            continue
        winner, loser = (x, y) if x.rank < y.rank else (y, x)
        if loser.in_lake:
            continue
        if loser.video_id not in best or winner.rank < best[loser.video_id][0].rank:
            best[loser.video_id] = (winner, frac)
    return best


def _band_values(videos: Sequence[SignedVideo], count: int, anchors: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per band position, the distinct (band value, video index) pairs of the videos' anchor hashes (``evenly``),
    sorted by value."""
    chosen = [evenly(v.signature, anchors) for v in videos]
    lengths = np.array([len(c) for c in chosen], dtype=np.intp)
    owner = np.repeat(np.arange(len(videos), dtype=np.intp), lengths)
    hashes = np.fromiter((h for c in chosen for h in c), dtype=np.int64, count=int(lengths.sum()))
    unsigned, width = hashes.view(np.uint64), 64 // count
    mask = np.uint64((1 << width) - 1)
    out = []
    for i in range(count):
        value = (unsigned >> np.uint64(i * width)) & mask
        pairs = np.unique(np.stack([value, owner.astype(np.uint64)], axis=1), axis=0)
        out.append((pairs[:, 0], pairs[:, 1].astype(np.intp)))
    return out


def candidate_pairs(new: Sequence[SignedVideo], lake: Sequence[SignedVideo], count: int, anchors: int,
                    chunk: int = 1 << 22) -> set[tuple[str, str]]:
    """Pairs of video ids (smaller first), not both from the lake, with an anchor hash each (``anchors`` of each
    signature, ``evenly``) that share a whole band of ``64 / count`` bits at the same position: the LSH
    candidates, found in numpy (the driver's path for small runs; ``pipelines`` joins the same bands in Spark for
    large ones). A pair that shares many bands is found
    many times: the finds are made distinct every ``chunk`` of them, so memory follows the distinct pairs (what
    the Spark join collects too), not the finds."""
    videos = [*new, *lake]
    found = np.zeros(0, dtype=np.intp)  # a * len(videos) + b for each pair of video indices (a new)
    pending: list[np.ndarray] = []
    pending_size = 0
    for value, owner in _band_values(videos, count, anchors):
        if not len(value):
            continue
        # Runs of one band value: every two owners in a run share it. Only runs with a new video make pairs.
        starts = np.flatnonzero(np.r_[True, value[1:] != value[:-1]])
        has_new = np.maximum.reduceat(owner < len(new), starts) if len(starts) else np.zeros(0, bool)
        ends = np.r_[starts[1:], len(value)]
        for start, end in zip(starts[has_new].tolist(), ends[has_new].tolist()):
            members = owner[start:end]
            fresh = members[members < len(new)]
            pending.append((fresh[:, None] * len(videos) + members[None, :]).ravel())
            pending_size += len(pending[-1])
            if pending_size >= chunk:
                found, pending, pending_size = np.unique(np.concatenate([found, *pending])), [], 0
    found = np.unique(np.concatenate([found, *pending]))
    first, second = (x.tolist() for x in np.divmod(found, len(videos)))
    named = ((videos[a].video_id, videos[b].video_id) for a, b in zip(first, second) if a != b)
    return {(a, b) if a < b else (b, a) for a, b in named}
