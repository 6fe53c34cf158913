"""What a file is, from its first bytes: decides ``not_video`` before any demuxer is asked.

FFmpeg's probing is generous: it reads text as ANSI art ("tty") and a PNG as a one-frame video. So a file whose
signature says image, document, archive or text is rejected as ``not_video`` with that type; a file with a
video signature that no demuxer opens is a broken video (``unreadable``); anything else goes to the demuxers.
"""

from __future__ import annotations

from dataclasses import dataclass

HEAD_BYTES = 8192
"""How much of a file the sniffer reads."""

# Containers `filetype` does not know, by their signatures.
_EXTRA_VIDEO = (
    (b".RMF", "video/vnd.rn-realvideo"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "video/x-ms-asf"),
    (b"YUV4MPEG2", "video/x-yuv4mpeg"),
    (b"DKIF", "video/x-ivf"),
    (b"\x00\x00\x01\xba", "video/mpeg"),
    (b"\x00\x00\x01\xb3", "video/mpeg"),
    (b"FLV\x01", "video/x-flv"),
)
# Demuxers that open still images (or text) as if they were one-frame videos.
IMAGE_DEMUXERS = ("image2", "gif", "tty", "apng", "bin", "ico", "alias_pix", "brender_pix")


@dataclass(frozen=True)
class Sniffed:
    mime: str
    """Detected type, 'application/octet-stream' when nothing matched."""
    video: bool
    """The signature is a video container's."""
    not_video: bool
    """The signature (or text) says this is certainly no video: image, document, archive, text."""


def _is_ts(head: bytes) -> bool:
    return len(head) >= 189 * 3 and all(head[i] == 0x47 for i in (0, 188, 376))


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # a multi-byte character cut by the read is fine
            return False
    return True


def sniff(head: bytes) -> Sniffed:
    """Classify a file by its first bytes (pass at least the first ``HEAD_BYTES``)."""
    import filetype

    for magic, mime in _EXTRA_VIDEO:
        if head.startswith(magic):
            return Sniffed(mime, video=True, not_video=False)
    if _is_ts(head):
        return Sniffed("video/mp2t", video=True, not_video=False)
    kind = filetype.guess(head)
    if kind is not None:
        mime = kind.mime
        if mime.startswith("video/"):
            return Sniffed(mime, video=True, not_video=False)
        # Audio may still be a container with a picture track (an .m4a-branded mp4, Ogg Theora): demuxers decide.
        return Sniffed(mime, video=False, not_video=not mime.startswith("audio/"))
    if _is_text(head):
        return Sniffed("text/plain", video=False, not_video=True)
    return Sniffed("application/octet-stream", video=False, not_video=False)


def sniff_file(path: str) -> Sniffed:
    with open(path, "rb") as f:
        return sniff(f.read(HEAD_BYTES))
