"""Why a file did not become training data. Bad input is a row with a stable reason code, never a crash."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# Stable reason codes (the `reason` column of the rejects table).
EMPTY_FILE = "empty_file"            # zero bytes
IO_ERROR = "io_error"                # the file could not be read (vanished, permissions)
BROKEN_LINK = "broken_link"          # a symbolic link whose target is missing, or a link loop
NOT_REGULAR_FILE = "not_regular_file"  # a named pipe, socket or device (or a link to one): nothing stored to read
UNREADABLE_FOLDER = "unreadable_folder"  # a folder under the input that cannot be listed (permissions, I/O)
NOT_VIDEO = "not_video"              # by content: image, document, archive, text, unknown bytes; detail names it
UNREADABLE = "unreadable"            # a video signature, but no demuxer could open it (truncated header)
NO_VIDEO_STREAM = "no_video_stream"  # a container with audio or data only
BAD_METADATA = "bad_metadata"        # absurd values: fps <= 0 or > max, zero frames, giant frames
TOO_SHORT = "too_short"
TOO_SMALL = "too_small"
TOO_LONG = "too_long"                # longer than a scorer takes (the online service's max_video_s)
DUPLICATE_OF = "duplicate_of"        # same sha256 as a kept file; detail names that file
NEAR_DUPLICATE_OF = "near_duplicate_of"  # same pictures as a kept video (re-encoded, resized, trimmed)
UNDECODABLE = "undecodable"          # opened, but not one clip could be decoded; detail: what each decoder got
LOW_QUALITY = "low_quality"          # every clip was filtered (blank, frozen, blurry, letterboxed); detail counts
DECODER_CRASH = "decoder_crash"      # the decoding process died (a signal such as SIGSEGV)
DECODE_TIMEOUT = "decode_timeout"    # the video took longer than decode.video_timeout_s (a hang)
DECODE_OOM = "decode_oom"            # the decoding process went over decode.video_max_memory_mb
PROBE_CRASH = "probe_crash"          # the probing process died (a signal such as SIGSEGV)
PROBE_TIMEOUT = "probe_timeout"      # hashing and probing took longer than probe.timeout_s (a hang)
PROBE_OOM = "probe_oom"              # the probing process went over probe.max_memory_mb

REASONS = (EMPTY_FILE, IO_ERROR, BROKEN_LINK, NOT_REGULAR_FILE, UNREADABLE_FOLDER, NOT_VIDEO, UNREADABLE,
           NO_VIDEO_STREAM, BAD_METADATA, TOO_SHORT, TOO_SMALL, TOO_LONG, DUPLICATE_OF, NEAR_DUPLICATE_OF, UNDECODABLE,
           LOW_QUALITY, DECODER_CRASH, DECODE_TIMEOUT, DECODE_OOM, PROBE_CRASH, PROBE_TIMEOUT, PROBE_OOM)

# Stages, in pipeline order.
STAGES = ("ingest", "probe", "clean", "decode")


@dataclass(frozen=True)
class Rejected:
    stage: str
    """Pipeline stage that rejected the file: ingest, probe, clean or decode."""
    reason: str
    """Stable reason code from REASONS."""
    detail: str
    """The library's message or the measured value, for humans."""
    video_id: str | None = None
    """sha256 of the file when it could be read before it was rejected."""

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")
        if self.reason not in REASONS:
            raise ValueError(f"unknown reject reason {self.reason!r}")

    def with_video_id(self, video_id: str | None) -> Rejected:
        return dataclasses.replace(self, video_id=video_id)

    def columns(self) -> dict[str, Any]:
        """The reject as the ``reject_*`` columns executors hand back (the rejects table's stage, reason, detail)."""
        return {"reject_stage": self.stage, "reject_reason": self.reason, "reject_detail": self.detail}


NOT_REJECTED: dict[str, Any] = {"reject_stage": None, "reject_reason": None, "reject_detail": None}
"""The ``reject_*`` columns of a record that was not rejected."""
