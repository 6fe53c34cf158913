"""Perceptual signatures of whole videos, for near-duplicate detection: a 64-bit DCT hash (pHash) of each
keyframe. Keyframes alone decode at a small fraction of the cost of every frame, so the probe stage can afford
them; a re-encode, a resize, a trim or another bitrate keeps the pictures, hence the hashes within a few bits.
Two videos are near-duplicates when most keyframes of the shorter one find a close hash in the other."""

from __future__ import annotations

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
    the other's (cost grows with the corpus, not its square). Two hashes fewer than ``bands`` bits apart always
    share a band; a re-encoded copy has many such keyframe pairs, so one shared band among them is certain in
    practice, while unrelated videos rarely share a whole 8-bit band."""

    def __post_init__(self) -> None:
        if self.max_keyframes < 1 or not 0 <= self.max_distance_bits <= 64:
            raise ValueError(f"max_keyframes must be >= 1 and max_distance_bits in [0, 64], got "
                             f"{self.max_keyframes}, {self.max_distance_bits}")
        if not 0 < self.min_match_frac <= 1:
            raise ValueError(f"min_match_frac must be in (0, 1], got {self.min_match_frac}")
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
