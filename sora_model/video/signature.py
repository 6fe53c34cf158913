"""Perceptual signatures of whole videos, for near-duplicate detection: a 64-bit DCT hash (pHash) of each
keyframe. Keyframes alone decode at a small fraction of the cost of every frame, so the probe stage can afford
them; a re-encode, a resize, a trim or another bitrate keeps the pictures, hence the hashes within a few bits.
Two videos are near-duplicates when most keyframes of the shorter one find a close hash in the other."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

HASH_SIDE = 32
"""Frames are reduced to HASH_SIDE x HASH_SIDE grey before the DCT."""
_LOW = 8  # the 8x8 lowest frequencies (bar the DC term) make the hash


@dataclass(frozen=True, kw_only=True)
class NearDupConfig:
    enabled: bool = True
    """Find near-duplicate videos (re-encoded, resized, trimmed, another bitrate) and reject all but one."""
    max_keyframes: int = 64
    """Keyframe hashes kept per video (spread evenly over it)."""
    max_distance_bits: int = 10
    """Two keyframe hashes match when they differ in at most this many of their 64 bits."""
    min_match_frac: float = 0.6
    """Videos are near-duplicates when at least this share of the shorter signature's hashes match one of the
    other's."""
    bands: int = 8
    """LSH bands: videos become candidates when one of their hashes shares a whole 64/bands-bit band with one of
    the other's; each candidate pair is then compared hash by hash. Two hashes fewer than ``bands`` bits apart
    always share a band, and a re-encoded copy has many keyframes that close. Narrow bands also meet by chance:
    with 8, unrelated videos of 64 keyframes almost always share one (41 % of the pairs of a synthetic lake with
    about 4 keyframes a video did), so the comparisons grow with the square of the corpus."""
    driver_max_videos: int = 100_000
    """When this run's new files and the dataset's videos in the lake number at most this many, candidates are
    found on the driver (numpy over the hashes read with delta-rs: no Spark job, and a small increment costs
    little whatever the lake); above it, by the LSH join in Spark. Both find the same candidates, and the driver
    holds them either way (the join's are collected). 0: always Spark."""

    def __post_init__(self) -> None:
        if self.max_keyframes < 1 or not 0 <= self.max_distance_bits <= 64:
            raise ValueError(f"max_keyframes must be >= 1 and max_distance_bits in [0, 64], got "
                             f"{self.max_keyframes}, {self.max_distance_bits}")
        if not 0 < self.min_match_frac <= 1:
            raise ValueError(f"min_match_frac must be in (0, 1], got {self.min_match_frac}")
        if self.driver_max_videos < 0:
            raise ValueError(f"driver_max_videos must be >= 0, got {self.driver_max_videos}")
        if self.bands not in (1, 2, 4, 8, 16, 32, 64):
            raise ValueError(f"bands must divide 64 (1, 2, 4, ..., 64), got {self.bands}")


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


def keyframe_hashes(path: str, max_keyframes: int) -> list[int]:
    """pHashes of the video's keyframes (at most ``max_keyframes``, evenly spread); [] when none decodes."""
    import av

    hashes: list[int] = []
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            for frame in container.decode(stream):
                hashes.append(phash(frame.to_ndarray(format="gray", width=HASH_SIDE, height=HASH_SIDE)))
    except (av.FFmpegError, ValueError, OSError, IndexError):
        pass
    if len(hashes) > max_keyframes:
        hashes = [hashes[i] for i in np.linspace(0, len(hashes) - 1, max_keyframes).round().astype(int)]
    return hashes


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


@dataclass(frozen=True)
class SignedVideo:
    """A video as near-duplicate detection sees it: its keyframe hashes and what ranks it against a copy."""

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
        frac = match_frac(list(x.signature), list(y.signature), cfg.max_distance_bits)
        if frac < cfg.min_match_frac:
            continue
        winner, loser = (x, y) if x.rank < y.rank else (y, x)
        if loser.in_lake:
            continue
        if loser.video_id not in best or winner.rank < best[loser.video_id][0].rank:
            best[loser.video_id] = (winner, frac)
    return best


def _band_values(videos: Sequence[SignedVideo], count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per band position, the distinct (band value, video index) pairs of the videos' hashes, sorted by value."""
    lengths = np.array([len(v.signature) for v in videos], dtype=np.intp)
    owner = np.repeat(np.arange(len(videos), dtype=np.intp), lengths)
    hashes = np.fromiter((h for v in videos for h in v.signature), dtype=np.int64, count=int(lengths.sum()))
    unsigned, width = hashes.view(np.uint64), 64 // count
    mask = np.uint64((1 << width) - 1)
    out = []
    for i in range(count):
        value = (unsigned >> np.uint64(i * width)) & mask
        pairs = np.unique(np.stack([value, owner.astype(np.uint64)], axis=1), axis=0)
        out.append((pairs[:, 0], pairs[:, 1].astype(np.intp)))
    return out


def candidate_pairs(new: Sequence[SignedVideo], lake: Sequence[SignedVideo], count: int,
                    chunk: int = 1 << 22) -> set[tuple[str, str]]:
    """Pairs of video ids (smaller first), not both from the lake, with a hash each that share a whole band of
    ``64 / count`` bits at the same position: the LSH candidates, found in numpy (the driver's path for small
    runs; ``pipelines`` joins the same bands in Spark for large ones). A pair that shares many bands is found
    many times: the finds are made distinct every ``chunk`` of them, so memory follows the distinct pairs (what
    the Spark join collects too), not the finds."""
    videos = [*new, *lake]
    found = np.zeros(0, dtype=np.intp)  # a * len(videos) + b for each pair of video indices (a new)
    pending: list[np.ndarray] = []
    pending_size = 0
    for value, owner in _band_values(videos, count):
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
