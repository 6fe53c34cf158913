"""Near-duplicate ground truth by construction, from the real footage of one half (``footage``): originals, their
copies, and distinct videos made to look alike; and the scoring of a judgement's duplicate pairs against it.

Originals are the footage's own files (a long one cut to its first 12 s). Copies of an original are another
encoding of the same pictures: HEVC, VP9, AV1, MPEG-4 part 2, a low bitrate, half the size, a crop of up to 10 %,
a trim, slowed down or sped up, black bars added, bits flipped in the file, and the copies the packages ship
themselves (``SourceFile.copy_of``). Distinct videos made to share pictures with others: originals behind the same
black intro, behind the same intro clip (a logo sting: two seconds from the middle of a long original that moves,
at most a fifth of the video it opens), with the same blank frames inserted, and picture-in-picture videos (another
original in a box) over the same still background. A pair of videos is a duplicate exactly when
both show the same original's pictures.

Two excerpts of one unchanging shot (a fixed camera on a square, a hand-held camera on one tree) show the same
pictures, and no signature of pictures can call them distinct: the set holds one excerpt of each file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from sora_model.evalset import footage, truth
from sora_model.evalset.shotset import resize as _resize
from sora_model.evalset.footage import Half
from sora_model.evalset.scoring import Score
from sora_model.video.signature import NearDupConfig, SignedVideo, candidate_pairs, similarity, video_signature

COPIES = ("hevc", "vp9", "av1", "mpeg4", "low_bitrate", "half_size", "crop", "trim", "slow", "fast", "letterbox",
          "bit_flips")
"""How a copy differs from its original."""
LOOKALIKES = ("black_intro", "logo_intro", "blank_frames", "same_background")
"""How a video is made to share pictures with distinct videos: the first three are copies of their original with
an intro or blank frames that other videos share; 'same_background' is a new video (an original in a box over a
still background that other such videos share)."""
EXCERPT_S = 12.0
"""Files longer than this are cut to their first EXCERPT_S seconds."""
BIT_FLIPS = 8
"""Bits flipped in a 'bit_flips' copy (past the first tenth of the file, so the container still opens)."""
MAX_SIDE_PX = 640
"""Pictures of a re-encoded original or copy are scaled to at most this long side."""
SET_VERSION = 5


@dataclass(frozen=True)
class DupVideo:
    path: str
    content: str
    """What it shows: the original's name; two videos are duplicates exactly when this is the same."""
    how: str
    """'original', 'packaged' (a copy the package ships), a COPIES entry, or a LOOKALIKES entry (then it is an
    original with an intro or blank frames added: a copy of that original, distinct from the others)."""


def _read(path: Path, start_s: float = 0.0, end_s: float = float("inf")) -> tuple[list[np.ndarray], float]:
    """RGB pictures between two times (long side at most MAX_SIDE_PX, even sizes) and the frame rate."""
    import av

    pictures: list[np.ndarray] = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        try:
            for i, frame in enumerate(c.decode(stream)):
                t = float(frame.time) if frame.time is not None else i / rate
                if t < start_s:
                    continue
                if t >= end_s:
                    break
                scale = min(1.0, MAX_SIDE_PX / max(frame.width, frame.height))
                w, h = max(2, int(frame.width * scale) // 2 * 2), max(2, int(frame.height * scale) // 2 * 2)
                pictures.append(frame.to_ndarray(format="rgb24", width=w, height=h))
        except av.FFmpegError:
            pass  # a file that stops decoding part way: what came out is the original
    return pictures, min(60.0, max(1.0, rate))


def _write(path: Path, pictures: Sequence[np.ndarray], fps: float, codec: str = "libx264",
           options: dict[str, str] | None = None) -> None:
    import av

    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration at info level
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as out:
        s = out.add_stream(codec, rate=rate)
        h, w = pictures[0].shape[:2]
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"threads": "1", **(options or {})}
        if codec == "libx264":
            s.options = {"preset": "veryfast", "crf": "23", "x264-params": "asm=0", **s.options}
        for i, img in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)


def _copy(pictures: list[np.ndarray], fps: float, how: str, src: Path, dst: Path,
          rng: np.random.Generator) -> Path:
    """Write one copy of an original (``pictures`` at ``fps``, file ``src``) and return its path."""
    h, w = pictures[0].shape[:2]
    if how == "bit_flips":
        data = bytearray(src.read_bytes())
        # Past the container's header, so the file still opens: damaged pictures, not a missing video.
        for pos in rng.integers(len(data) // 10, len(data), size=BIT_FLIPS):
            data[int(pos)] ^= 1 << int(rng.integers(8))
        dst = dst.with_suffix(src.suffix)
        dst.write_bytes(bytes(data))
        return dst
    codec, options, out = "libx264", {}, pictures
    if how == "hevc":
        codec, options, dst = "libx265", {"preset": "ultrafast", "x265-params": "log-level=error"}, \
            dst.with_suffix(".mkv")
    elif how == "vp9":
        # libvpx does not open in a process that has loaded decord (its bundled FFmpeg libraries): build sets in
        # a process of their own.
        codec, options, dst = "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "b": "800k"}, \
            dst.with_suffix(".webm")
    elif how == "av1":
        codec, options, dst = "libsvtav1", {"preset": "10"}, dst.with_suffix(".mkv")
    elif how == "mpeg4":
        codec, options, dst = "mpeg4", {"qscale": "6"}, dst.with_suffix(".avi")
    elif how == "low_bitrate":
        options = {"crf": "40"}
    elif how == "half_size":
        out = [_resize(p, max(2, w // 4 * 2), max(2, h // 4 * 2)) for p in pictures]
    elif how == "crop":
        fy, fx = (rng.uniform(0.03, 0.05) for _ in range(2))
        dy, dx = int(h * fy), int(w * fx)
        out = [_resize(p[dy:h - dy, dx:w - dx], w, h) for p in pictures]
    elif how == "trim":
        n = len(pictures)
        a = int(rng.uniform(0.2, 0.35) * n)
        out = pictures[a:] if rng.random() < 0.5 else pictures[a // 2:n - a // 2]
    elif how in ("slow", "fast"):
        speed = 0.75 if how == "slow" else 1.5
        out = [pictures[int(k * speed)] for k in range(int(len(pictures) / speed))]
    elif how == "letterbox":
        bar = max(2, int(h * 0.12) // 2 * 2)
        out = []
        for p in pictures:
            frame = np.zeros_like(p)
            frame[bar:h - bar] = _resize(p, w, h - 2 * bar)
            out.append(frame)
    elif how != "original":
        raise ValueError(f"unknown copy {how!r}")
    _write(dst.with_suffix(dst.suffix or ".mp4"), out or pictures[:1], fps, codec, options)
    return dst.with_suffix(dst.suffix or ".mp4")


def _originals(half: Half, paths: dict[str, Path], work: Path) -> list[tuple[str, Path, str, str]]:
    """(name, path, content, source kind) of every original and packaged copy of the half; a long file gives its
    first EXCERPT_S seconds."""
    import av

    out = []
    for source in footage.sources(half):
        for f in source.files:
            with av.open(str(paths[f.name])) as c:
                duration = float(c.duration or 0) / 1e6
            if f.copy_of:
                out.append((f.name, paths[f.name], f.copy_of, source.kind))
            elif duration > EXCERPT_S + 1:
                name = f"{Path(f.name).stem}_first{EXCERPT_S:g}s"
                pictures, fps = _read(paths[f.name], 0.0, EXCERPT_S)
                dst = work / f"{name}.mp4"
                _write(dst, pictures, fps)
                out.append((name, dst, name, source.kind))
            else:
                out.append((f.name, paths[f.name], f.name, source.kind))
    return out


def build(half: Half, out_dir: Path, seed: int = 0, copies_per_original: int = 5,
          lookalikes: int = 6) -> list[DupVideo]:
    """Write the set under ``out_dir`` (and ``truth.json``): every original of ``half``, ``copies_per_original``
    copies of each (kinds dealt so that each is used about equally), and ``lookalikes`` videos of each kind in
    LOOKALIKES."""
    rng = np.random.default_rng(seed)
    paths = footage.fetch([f for s in footage.sources(half) for f in s.files])
    out_dir.mkdir(parents=True, exist_ok=True)
    originals = _originals(half, paths, out_dir)
    videos = [DupVideo(str(p), content, "original" if name == content else "packaged")
              for name, p, content, _ in originals]
    own = [(name, p) for name, p, content, _ in originals if name == content]
    moving = {name for name, _, content, kind in originals if name == content and kind not in ("static", "screen")}
    deck: list[str] = []
    durations: dict[str, float] = {}
    for name, path in own:
        pictures, fps = _read(path)
        durations[name] = len(pictures) / fps
        if not pictures:
            continue
        for how in _deal(deck, rng, copies_per_original):
            dst = _copy(pictures, fps, how, path, out_dir / f"{Path(name).stem}.{how}.mp4", rng)
            videos.append(DupVideo(str(dst), name, how))
    # Look-alikes: distinct originals sharing an intro or blank frames, or a background. The sting comes from the
    # middle of a long original that moves (two of its seconds): a short or still one would be whole inside every
    # stinged video, which is then a copy of it as much as of its own original.
    long_ones = sorted(name for name, d in durations.items() if d >= 5 * 2.0 and name in moving)
    sting_from = long_ones[int(rng.integers(len(long_ones)))]
    middle = durations[sting_from] / 2
    logo, logo_fps = _read(dict(own)[sting_from], middle - 1.0, middle + 1.0)
    others = [(name, path) for name, path in own if name != sting_from]
    chosen = [others[int(i)] for i in rng.choice(len(others), size=min(len(others), lookalikes), replace=False)]
    backdrop = _read(own[int(rng.integers(len(own)))][1], 0.0, 1.0)[0][0]
    for name, path in chosen:
        pictures, fps = _read(path)
        h, w = pictures[0].shape[:2]
        black = [np.zeros((h, w, 3), np.uint8)] * int(1.5 * fps)
        # A sting is short next to what follows (at most a fifth of it): with more, most pictures are shared.
        sting = [_resize(p, w, h) for p in logo[:int(min(2.0, len(pictures) / fps / 5) * logo_fps)]]
        grey = [np.full((h, w, 3), 200, np.uint8)] * int(fps)
        mid = len(pictures) // 2
        for how, pics in (("black_intro", black + pictures), ("logo_intro", sting + pictures),
                          ("blank_frames", pictures[:mid] + grey + pictures[mid:] + black)):
            dst = out_dir / f"{Path(name).stem}.{how}.mp4"
            _write(dst, pics, fps)
            videos.append(DupVideo(str(dst), name, how))
        bh, bw = backdrop.shape[:2]
        box_h, box_w = bh * 9 // 20 // 2 * 2, bw * 9 // 20 // 2 * 2
        top, left = (bh - box_h) // 2, (bw - box_w) // 2
        boxed = []
        for p in pictures:
            frame = backdrop.copy()
            frame[top:top + box_h, left:left + box_w] = _resize(p, box_w, box_h)
            boxed.append(frame)
        dst = out_dir / f"{Path(name).stem}.same_background.mp4"
        _write(dst, boxed, fps)
        videos.append(DupVideo(str(dst), f"{name} boxed", "same_background"))
    truth.write_truth(out_dir, [asdict(v) for v in videos])
    return videos


def _deal(deck: list[str], rng: np.random.Generator, n: int) -> list[str]:
    """n distinct copy kinds off a shuffled deck of COPIES, refilled when it runs out."""
    out: list[str] = []
    while len(out) < n:
        if not deck:
            deck.extend(str(c) for c in rng.permutation(COPIES))
        how = deck.pop()
        if how not in out:
            out.append(how)
        else:
            deck.insert(0, how)
    return out


def load(out_dir: Path) -> list[DupVideo]:
    return [DupVideo(**d) for d in truth.read_truth(out_dir)]


def cached(half: Half, seed: int = 0, cache: Path | None = None) -> list[DupVideo]:
    """``build``'s set from a cache beside the footage's, built the first time (2-4 minutes a half here)."""
    return load(truth.cached_set(f"dups-v{SET_VERSION}-{half}-seed{seed}",
                                   lambda folder: build(half, folder, seed=seed), cache))


def judge(videos: Sequence[DupVideo], cfg: NearDupConfig) -> tuple[list[tuple[int, int]], int, float]:
    """What curate's near-duplicate search finds among ``videos``: (duplicate pairs of indices, candidate pairs,
    seconds spent on signatures)."""
    import time

    start = time.perf_counter()
    signatures = [video_signature(v.path, cfg) for v in videos]
    seconds = time.perf_counter() - start
    signed = [SignedVideo(video_id=str(i), uri=v.path, signature=tuple(sig), in_lake=False, labelled=False,
                          duration_s=0.0, pixels=0) for i, (v, sig) in enumerate(zip(videos, signatures))]
    candidates = candidate_pairs(signed, [], cfg.bands, cfg.band_frames)
    found = [(int(a), int(b)) for a, b in candidates
             if similarity(signatures[int(a)], signatures[int(b)], cfg) >= cfg.min_match_frac]
    return found, len(candidates), seconds


def score(videos: Sequence[DupVideo], found: Iterable[tuple[int, int]]) -> dict[str, Score]:
    """Pair scores of the found duplicate pairs (indices into ``videos``): 'all'; per copy or look-alike kind, the
    pairs of an original with its copy of that kind (true pairs) and the pairs of that kind's videos with videos of
    other content (false pairs)."""
    found_set = {(min(a, b), max(a, b)) for a, b in found if a != b}
    out = {k: Score() for k in ("all", "copies", *COPIES, "packaged", *LOOKALIKES)}
    for a in range(len(videos)):
        for b in range(a + 1, len(videos)):
            x, y = videos[a], videos[b]
            hit = (a, b) in found_set
            kinds = {x.how, y.how} - {"original"}
            if x.content == y.content:
                # A copy against its original counts for the copy's kind and 'copies'; two copies only for 'all'.
                for k in ("all", *(("copies", *kinds) if len(kinds) == 1 else ())):
                    out[k].tp += hit
                    out[k].fn += not hit
            else:
                for k in ("all", *kinds):
                    out[k].negatives += 1
                    out[k].fp += hit
    return out
