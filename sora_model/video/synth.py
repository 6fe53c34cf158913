"""Synthetic demo corpus: real h264 mp4 files whose classes differ only in motion.

Six classes: an object with a random texture moves left, right, up or down (wrapping around the frame), or a
textured disk rotates clockwise or counter-clockwise. Backgrounds, textures, positions, speeds, resolutions,
frame rates and durations are random per video, so a single frame says nothing about the class; the order of
frames does. Some videos are two shots joined by a hard cut (new background and object, same class). A few files
are deliberately bad. Everything derives from the seed: the same seed writes the same bytes.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sora_model.lake.ids import seed_of
from sora_model.video.frames import resize_bilinear
from sora_model.video.writers import box_blur, encode_frames, letterbox, reencode, write_audio_only, write_png

logger = logging.getLogger(__name__)

CLASSES = ("left", "right", "up", "down", "clockwise", "counterclockwise")
WIDTHS_PX = (96, 128, 160, 192, 240, 256, 320)
FPS_CHOICES = (15, 20, 24, 25, 30)


@dataclass(frozen=True)
class VideoSpec:
    name: str
    """Path relative to the corpus root."""
    label_name: str
    width_px: int
    height_px: int
    fps: int
    duration_s: float
    seed: int
    cut_s: float | None = None
    """Time of the hard cut between two shots, None for single-shot videos."""
    fragmented: bool = False
    """Fragmented mp4 (index up front, then self-contained fragments), so a truncated copy is still partly
    decodable; plain files keep the index at the end."""

    @property
    def cut_frame(self) -> int | None:
        """Index of the first frame of the second shot (the frame a cut detector must report)."""
        if self.cut_s is None:
            return None
        return next(i for i in range(int(self.duration_s * self.fps) + 2) if i / self.fps >= self.cut_s)


@dataclass(frozen=True)
class BadFile:
    name: str
    kind: str
    """truncated_partial, truncated_header, empty, random_bytes, text, audio_only, too_small, too_short,
    duplicate."""
    expected_reason: str | None
    """Reject reason the pipeline must give; None when the file must yield clips (a recoverable truncation)."""


def plan_corpus(videos: int, seed: int) -> list[VideoSpec]:
    rng = np.random.default_rng(seed_of("corpus", seed))
    specs = []
    for i in range(videos):
        label = CLASSES[i % len(CLASSES)]
        width = int(rng.choice(WIDTHS_PX))
        height = int(np.clip(round(width * rng.uniform(0.55, 1.0) / 2) * 2, 96, 240))
        duration = float(np.round(rng.uniform(2.0, 12.0), 2))
        cut = float(np.round(rng.uniform(0.35, 0.65) * duration, 2)) if duration >= 4 and rng.random() < 0.3 \
            else None
        specs.append(VideoSpec(name=f"part-{i % 4}/clip_{i:04d}.mp4", label_name=label, width_px=width,
                               height_px=height, fps=int(rng.choice(FPS_CHOICES)), duration_s=duration,
                               seed=seed_of("video", seed, i), cut_s=cut))
    return specs


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = rng.uniform(30, 220, size=3)
    coarse = rng.uniform(-60, 60, size=(1, int(rng.integers(2, 7)), int(rng.integers(2, 7)), 3))
    smooth = resize_bilinear(np.clip(coarse + 128, 0, 255).astype(np.uint8), h, w)[0].astype(np.float32) - 128
    noise = rng.normal(0, rng.uniform(2, 12), size=(h, w, 3))
    return np.clip(base + smooth + noise, 0, 255).astype(np.uint8)


def _texture(rng: np.random.Generator, side: int) -> np.ndarray:
    cells = int(rng.integers(3, 7))
    coarse = rng.integers(0, 256, size=(1, cells, cells, 3), dtype=np.uint8)
    nearest = np.repeat(np.repeat(coarse[0], -(-side // cells), axis=0), -(-side // cells), axis=1)
    return np.ascontiguousarray(nearest[:side, :side])


class _Shot:
    """One shot's scene: background plus a moving or rotating textured object."""

    def __init__(self, rng: np.random.Generator, label: str, h: int, w: int) -> None:
        self.label, self.h, self.w = label, h, w
        self.bg = _background(rng, h, w)
        side = int(min(h, w) * rng.uniform(0.28, 0.4))
        self.side = side
        if label in ("clockwise", "counterclockwise"):
            r = side // 2 + 4
            self.cy = int(rng.integers(r, h - r))
            self.cx = int(rng.integers(r, w - r))
            yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
            self.mask = (yy**2 + xx**2) <= r**2
            self.theta = np.arctan2(yy, xx)[self.mask]
            self.radius = np.hypot(yy, xx)[self.mask] / r
            sectors = int(rng.integers(3, 6))
            # Uneven sector widths: no rotational symmetry, so the direction of rotation is unambiguous.
            widths = rng.dirichlet(np.full(sectors, 2.0)) * 2 * np.pi
            self.bounds = np.cumsum(widths)
            self.colors = rng.integers(0, 256, size=(sectors, 3)).astype(np.uint8)
            self.ring = rng.integers(0, 256, size=3).astype(np.uint8)
            self.r = r
            # theta grows clockwise on screen (image y points down), so a growing phase turns clockwise.
            self.spin = (1 if label == "clockwise" else -1) * rng.uniform(0.25, 0.45) * 2 * np.pi  # rad/s
            self.phase = rng.uniform(0, 2 * np.pi)
        else:
            self.tex = _texture(rng, side)
            axis_len = w if label in ("left", "right") else h
            self.speed = rng.uniform(0.3, 0.6) * axis_len  # px per second
            self.sign = -1 if label in ("left", "up") else 1
            self.x0 = rng.uniform(0, w)
            self.y0 = rng.uniform(0, h)

    def render(self, t: float) -> np.ndarray:
        img = self.bg.copy()
        if self.label in ("clockwise", "counterclockwise"):
            angle = np.mod(self.theta - self.phase - self.spin * t, 2 * np.pi)
            idx = np.minimum(np.searchsorted(self.bounds, angle), len(self.colors) - 1)
            colors = self.colors[idx]
            colors[self.radius > 0.85] = self.ring
            patch = img[self.cy - self.r:self.cy + self.r + 1, self.cx - self.r:self.cx + self.r + 1]
            patch[self.mask] = colors
            return img
        d = self.sign * self.speed * t
        horizontal = self.label in ("left", "right")
        x = (self.x0 + (d if horizontal else 0)) % self.w
        y = (self.y0 + (0 if horizontal else d)) % self.h
        for dy in (0, -self.h):
            for dx in (0, -self.w):
                self._paste(img, int(y) + dy, int(x) + dx)
        return img

    def _paste(self, img: np.ndarray, top: int, left: int) -> None:
        t0, l0 = max(top, 0), max(left, 0)
        t1, l1 = min(top + self.side, self.h), min(left + self.side, self.w)
        if t1 > t0 and l1 > l0:
            img[t0:t1, l0:l1] = self.tex[t0 - top:t1 - top, l0 - left:l1 - left]


def render_video(spec: VideoSpec, root: Path) -> None:
    rng = np.random.default_rng(spec.seed)
    shots = [_Shot(rng, spec.label_name, spec.height_px, spec.width_px)]
    if spec.cut_s is not None:
        shots.append(_Shot(rng, spec.label_name, spec.height_px, spec.width_px))
    n = int(round(spec.duration_s * spec.fps))

    def frames():
        for i in range(n):
            t = i / spec.fps
            shot = shots[1] if spec.cut_frame is not None and i >= spec.cut_frame else shots[0]
            yield shot.render(t)

    encode_frames(root / spec.name, frames(), spec.width_px, spec.height_px, spec.fps, spec.fragmented)


def write_bad_files(root: Path, specs: list[VideoSpec], seed: int) -> list[BadFile]:
    """The deliberately bad files, each with the reject reason the pipeline must give."""
    rng = np.random.default_rng(seed_of("bad", seed))
    bad_dir = root / "incoming"
    bad_dir.mkdir(parents=True, exist_ok=True)
    out: list[BadFile] = []
    label = CLASSES[0]

    partial = VideoSpec(name="incoming/truncated_partial.mp4", label_name=label, width_px=160, height_px=120,
                        fps=20, duration_s=8.0, seed=seed_of("trunc", seed), fragmented=True)
    render_video(partial, root)
    data = (root / partial.name).read_bytes()
    (root / partial.name).write_bytes(data[: int(len(data) * 0.6)])
    out.append(BadFile(partial.name, "truncated_partial", None))

    header = VideoSpec(name="incoming/truncated_header.mp4", label_name=label, width_px=160, height_px=120,
                       fps=20, duration_s=4.0, seed=seed_of("trunc2", seed))
    render_video(header, root)
    data = (root / header.name).read_bytes()
    (root / header.name).write_bytes(data[: int(len(data) * 0.5)])
    out.append(BadFile(header.name, "truncated_header", "unreadable"))

    (bad_dir / "empty.mp4").write_bytes(b"")
    out.append(BadFile("incoming/empty.mp4", "empty", "empty_file"))
    (bad_dir / "random_bytes.mp4").write_bytes(rng.integers(0, 256, size=200_000, dtype=np.uint8).tobytes())
    out.append(BadFile("incoming/random_bytes.mp4", "random_bytes", "not_video"))
    (bad_dir / "notes.mp4").write_text("This is not a video.\nIt is a text file with a video's name.\n" * 20)
    out.append(BadFile("incoming/notes.mp4", "text", "not_video"))
    (bad_dir / "notes.txt").write_text("shot list: none\n")
    out.append(BadFile("incoming/notes.txt", "text", "not_video"))
    write_png(bad_dir / "poster.png", rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8))
    out.append(BadFile("incoming/poster.png", "image", "not_video"))
    # Videos whatever their names: no extension, an unknown one, characters URLs treat specially.
    for i, name in enumerate(("incoming/upload_3f9a", "incoming/camera.dat", "incoming/percent%20enc #hash?q é.mp4")):
        spec = VideoSpec(name=name, label_name=label, width_px=128, height_px=96, fps=15, duration_s=3.0,
                         seed=seed_of(f"named{i}", seed))
        encode_frames(root / name, (_Shot(np.random.default_rng(spec.seed), label, 96, 128).render(k / 15)
                              for k in range(45)), 128, 96, 15, False, container_format="mp4")
        out.append(BadFile(name, "odd_name", None))
    # Decodable, but no clip worth training on: every clip is filtered, so the video is rejected low_quality.
    # Each from its own scene, or they would be near-duplicates of one another.
    def pictures(kind: str) -> list[np.ndarray]:
        scene = _Shot(np.random.default_rng(seed_of(f"quality-{kind}", seed)), label, 96, 128)
        return [scene.render(k / 15) for k in range(45)]

    spoiled = {
        "frozen": [pictures("frozen")[0]] * 45,
        "black": [np.zeros((96, 128, 3), np.uint8)] * 45,
        "blurry": [box_blur(p, 13) for p in pictures("blurry")],
        "letterboxed": [letterbox(p, 0.22) for p in pictures("letterboxed")],
    }
    for kind, frames in spoiled.items():
        name = f"incoming/{kind}.mp4"
        encode_frames(root / name, iter(frames), 128, 96, 15, False)
        out.append(BadFile(name, kind, "low_quality"))
    write_audio_only(bad_dir / "audio_only.mp4")
    out.append(BadFile("incoming/audio_only.mp4", "audio_only", "no_video_stream"))

    tiny = VideoSpec(name="incoming/tiny.mp4", label_name=label, width_px=48, height_px=32, fps=15,
                     duration_s=3.0, seed=seed_of("tiny", seed))
    render_video(tiny, root)
    out.append(BadFile(tiny.name, "too_small", "too_small"))
    short = VideoSpec(name="incoming/short.mp4", label_name=label, width_px=128, height_px=96, fps=15,
                      duration_s=0.4, seed=seed_of("short", seed))
    render_video(short, root)
    out.append(BadFile(short.name, "too_short", "too_short"))

    original = sorted(specs, key=lambda s: s.name)[0]
    dup_name = "incoming/copy_of_" + Path(original.name).name
    (root / dup_name).write_bytes((root / original.name).read_bytes())
    out.append(BadFile(dup_name, "duplicate", "duplicate_of"))
    # The same pictures, other bytes: resized, and at a much lower bitrate.
    for kind, scale, crf in (("resized", 0.75, 23), ("low_bitrate", 1.0, 40)):
        name = f"incoming/{kind}_" + Path(original.name).name
        reencode(root / original.name, root / name, scale=scale, crf=crf)
        out.append(BadFile(name, "near_duplicate", "near_duplicate_of"))
    return out


def _render_one(args: tuple[VideoSpec, str]) -> str:
    spec, root = args
    render_video(spec, Path(root))
    return spec.name


def write_corpus(out_dir: str | os.PathLike, videos: int, seed: int, workers: int = 1,
                 bad_files: bool = True) -> dict:
    """Write the corpus, ``labels.csv`` (path,label_name) and ``manifest.json`` (specs, bad files, cuts)."""
    if videos < 1:
        raise ValueError(f"videos must be >= 1, got {videos}")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    specs = plan_corpus(videos, seed)
    jobs = [(spec, str(root)) for spec in specs]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for done, name in enumerate(pool.map(_render_one, jobs, chunksize=4), start=1):
                if done % 25 == 0 or done == len(jobs):
                    logger.info("rendered %d/%d videos", done, len(jobs))
    else:
        for spec in specs:
            render_video(spec, root)
    bad = write_bad_files(root, specs, seed) if bad_files else []
    labels = [(s.name, s.label_name) for s in specs]
    labels += [(b.name, CLASSES[0]) for b in bad if b.kind in ("truncated_partial", "odd_name")]
    with open(root / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label_name"])
        writer.writerows(sorted(labels))
    manifest = {"seed": seed, "classes": list(CLASSES),
                "videos": [{**asdict(s), "cut_frame": s.cut_frame} for s in specs],
                "bad_files": [asdict(b) for b in bad]}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest
