"""Writing real encoded video files from pictures: frames to h264 (deterministic bytes for the same pixels), a
re-encode of a file (resized, lower quality, trimmed: near-duplicates), and the picture edits and odd files the
synthetic corpus and the evaluation sets are made of (blur, letterbox bars, a PNG, an audio-only file)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def rgb_to_yuv420p(img: np.ndarray) -> np.ndarray:
    """BT.601 limited-range RGB -> planar YUV 4:2:0 as PyAV's ``(h * 3 / 2, w)`` layout.

    Done here, in fixed-order element-wise arithmetic, so the encoder's input depends on nothing but the
    pixels (no swscale code path of the FFmpeg build, no reduction order).
    """
    f = img.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    h, w = img.shape[:2]

    def sub(c: np.ndarray) -> np.ndarray:
        # Element-wise adds in a fixed order: a numpy reduction (mean) may sum in an order that depends on
        # memory alignment, and one chroma value off by one changes the encoded bytes.
        return ((c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]) / 4).ravel()

    planes = np.concatenate([y.ravel(), sub(cb), sub(cr)]).reshape(h * 3 // 2, w)
    return np.clip(np.rint(planes), 0, 255).astype(np.uint8)


def encode_frames(path: Path, frames, width_px: int, height_px: int, fps: int, fragmented: bool,  # noqa: ANN001
            container_format: str | None = None) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"} if fragmented else {}
    with av.open(str(path), mode="w", options=options, format=container_format) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width_px, height_px, "yuv420p"
        # One thread, a fixed GOP and x264's plain C code: with its SIMD code this x264 build wrote different
        # bytes for the same pictures in about 1 file of 20 (measured: 12 encodes, 2 outputs; with asm=0, 1).
        stream.options = {"preset": "veryfast", "crf": "23", "threads": "1", "g": str(2 * fps),
                          "x264-params": "asm=0"}
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(img), format="yuv420p")
            # Explicit timestamps: without them x264's rate control sees undefined frame durations.
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def box_blur(img: np.ndarray, radius_px: int) -> np.ndarray:
    """A box blur of ``radius_px`` over an HxWxC uint8 picture (edges repeated), for deliberately blurry videos."""
    x = img.astype(np.float32)
    for axis in (0, 1):
        pad = [(radius_px + 1, radius_px) if a == axis else (0, 0) for a in range(x.ndim)]
        c = np.cumsum(np.pad(x, pad, mode="edge"), axis=axis)
        n = x.shape[axis]
        x = (np.take(c, np.arange(2 * radius_px + 1, 2 * radius_px + 1 + n), axis=axis)
             - np.take(c, np.arange(0, n), axis=axis)) / (2 * radius_px + 1)
    return x.clip(0, 255).astype(np.uint8)


def letterbox(img: np.ndarray, bar_frac: float) -> np.ndarray:
    """Black bars over ``bar_frac`` of the height at the top and at the bottom."""
    out = img.copy()
    bar = int(round(img.shape[0] * bar_frac))
    out[:bar] = 0
    out[img.shape[0] - bar:] = 0
    return out


def write_png(path: Path, rgb: np.ndarray) -> None:
    """A real PNG (a still image: the pipeline must call it not_video, though FFmpeg can open it)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write_audio_only(path: Path) -> None:
    import av

    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        t = np.arange(16000 * 2) / 16000
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + 1024]),
                                               format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def reencode(src: Path, dst: Path, scale: float = 1.0, crf: int = 23, trim_s: float = 0.0,
             gop_s: float = 2.0) -> None:
    """Decode ``src`` and encode it again (h264): resized by ``scale``, at quality ``crf``, without its first
    ``trim_s`` seconds, with a keyframe every ``gop_s``. The near-duplicates of a video."""
    import av

    with av.open(str(src)) as c:
        stream = c.streams.video[0]
        fps = float(stream.average_rate)
        pictures = [f.to_ndarray(format="rgb24") for f in c.decode(stream)][int(round(trim_s * fps)):]
    h, w = pictures[0].shape[:2]
    nh, nw = int(h * scale) // 2 * 2, int(w * scale) // 2 * 2
    with av.open(str(dst), mode="w") as out:
        s = out.add_stream("libx264", rate=round(fps))
        s.width, s.height, s.pix_fmt = nw, nh, "yuv420p"
        s.options = {"preset": "veryfast", "crf": str(crf), "threads": "1", "g": str(max(1, round(gop_s * fps))),
                     "x264-params": "asm=0"}
        for img in pictures:
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if (nw, nh) != (w, h):
                frame = frame.reformat(width=nw, height=nh)
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
