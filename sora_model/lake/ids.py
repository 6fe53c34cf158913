"""Content-derived identifiers: the same bytes and span always get the same ID, so reruns merge, not append."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone

CLIP_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/sora_model/clip")


def clip_id(video_id: str, start_frame: int, end_frame: int) -> str:
    """uuid5 of the video's sha256 and the clip's frame span ``[start_frame, end_frame)``."""
    if end_frame <= start_frame:
        raise ValueError(f"empty span [{start_frame}, {end_frame}) for video {video_id}")
    return str(uuid.uuid5(CLIP_NAMESPACE, f"{video_id}:{start_frame}:{end_frame}"))


def unit_hash(*parts: object) -> float:
    """Deterministic float in [0, 1) from the parts (split assignment, per-clip seeds)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def seed_of(*parts: object) -> int:
    """Deterministic 64-bit seed from the parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def new_run_id() -> str:
    """A job run's id: its UTC start time (so ids sort by start) and a random suffix (so two starts in the same
    second on two machines differ)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
