"""The per-video path, shared by curation and scoring: a URI -> probe facts -> clip spans with their decoded
frames, or a ``Rejected`` that says why not.

Plain functions over plain values; Spark maps them over partitions and they never see it, a rank or a driver
path. Curation runs the two halves in separate stages (exact duplicates are found between them); scoring runs
both at once through :func:`open_video`.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from sora_model.lake import object_store, storage
from sora_model.video import contain, rejects, shot_detectors
from sora_model.video import decode as decode_lib
from sora_model.video.clean import CleanConfig, check
from sora_model.video.clips import ClipConfig, Picker, Span
from sora_model.video.decode import DecodeConfig, DecodeReport, decode_clips
from sora_model.video.probe import PROBE_FIELDS, ProbeConfig, ProbeResult, probe_file
from sora_model.video.rejects import Rejected
from sora_model.video.signature import NearDupConfig, video_signature


@dataclass(frozen=True)
class ProbedVideo:
    """A file that was read, hashed, probed and passed the per-file gate."""

    uri: str
    video_id: str
    """sha256 of the content."""
    probe: ProbeResult
    signature: tuple[int, ...] = ()
    """Frame pHashes (``signature.video_signature``); empty when near-duplicates are not looked for."""

    def columns(self) -> dict[str, Any]:
        """``video_id``, the probe facts and the signature, as columns."""
        return {"video_id": self.video_id, **dataclasses.asdict(self.probe), "signature": list(self.signature)}

    @classmethod
    def from_columns(cls, record: dict[str, Any]) -> ProbedVideo:
        """Back from a record holding ``uri``, ``video_id`` and the probe facts (other keys are ignored)."""
        return cls(record["uri"], record["video_id"], ProbeResult(**{k: record[k] for k in PROBE_FIELDS}))


def _broken_link(uri: str) -> str:
    """Why a local symbolic link leads to no file ('' for anything else)."""
    if not storage.is_local(uri):
        return ""
    path = storage.local_path(uri)
    if not os.path.islink(path) or os.path.exists(path):
        return ""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return f"link loop: {path} -> {os.readlink(path)}"
    return f"link target missing: {path} -> {os.readlink(path)}"


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def _not_a_file(uri: str) -> Rejected | None:
    """A local entry that is no stored file: a link to nowhere, a pipe, socket or device (reading one could block
    forever or never end), or a folder the listing could not read."""
    broken = _broken_link(uri)
    if broken:
        return Rejected("ingest", rejects.BROKEN_LINK, broken)
    if not storage.is_local(uri):
        return None
    path = storage.local_path(uri)
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return Rejected("ingest", rejects.IO_ERROR, f"{type(e).__name__}: {e}")
    if stat.S_ISDIR(mode):
        try:
            os.scandir(path).close()
            why = "listed as a file: it was not readable when the input was listed"
        except OSError as e:
            why = f"{type(e).__name__}: {e}"
        return Rejected("ingest", rejects.UNREADABLE_FOLDER,
                        f"{path} is a folder that cannot be listed ({why}); nothing under it is curated until it "
                        f"can be: fix its permissions, or move it out of the input")
    for test, kind in _KINDS:
        if test(mode):
            link = f" (through the link {path} -> {os.readlink(path)})" if os.path.islink(path) else ""
            return Rejected("ingest", rejects.NOT_REGULAR_FILE, f"{kind}{link}, not a stored file")
    return None


def probe_video(uri: str, clean: CleanConfig, near_dup: NearDupConfig | None = None,
                probe: ProbeConfig | None = None) -> ProbedVideo | Rejected:
    """Hash and probe one file, then apply the per-file gate; with ``near_dup`` also compute its near-duplicate
    signature. With ``probe.isolate`` (the default) that work runs in this worker's decoding process under
    ``probe.timeout_s`` and ``probe.max_memory_mb``. Never raises for a bad file."""
    not_a_file = _not_a_file(uri)
    if not_a_file is not None:
        return not_a_file
    probe = probe or ProbeConfig()
    if not probe.isolate:
        return _probe(uri, clean, near_dup)
    outcome = contain.shared().run(_probe_job, (uri, clean, near_dup),
                                   contain.Limits(probe.timeout_s, probe.max_memory_mb, stage="probe"))
    return outcome.failure if outcome.failure is not None else outcome.items[-1]


def _raise_if_store_unreachable(uri: str, error: OSError) -> None:
    """A remote file the store could not serve (for longer than object_store.retry_s) says nothing about the file:
    stop the task rather than reject it."""
    if not storage.is_local(uri):
        reason = object_store.unreachable_reason(error)
        if reason:
            raise object_store.StoreUnreachable(f"the object store could not be reached reading {uri}: {reason}")


def gate_known(record: dict[str, Any], clean: CleanConfig, near_dup: NearDupConfig | None) -> ProbedVideo | Rejected:
    """The per-file gate over facts an earlier run found (a ``files`` row: uri, video_id, probe facts, signature),
    without reading the file again: what ``probe_video`` gives for it, given the stored signature was computed with
    ``near_dup``'s settings."""
    video = ProbedVideo.from_columns(record)
    rejected = check(video.probe, clean)
    if rejected is not None:
        return rejected.with_video_id(video.video_id)
    signature = tuple(record["signature"] or ()) if near_dup is not None else ()
    return dataclasses.replace(video, signature=signature)


def _probe_job(uri: str, clean: CleanConfig, near_dup: NearDupConfig | None) -> Iterator[ProbedVideo | Rejected]:
    yield _probe(uri, clean, near_dup)


def _probe(uri: str, clean: CleanConfig, near_dup: NearDupConfig | None) -> ProbedVideo | Rejected:
    video_id, signature = None, ()
    try:
        with storage.open_local(uri) as path:
            video_id = storage.sha256_file(path)
            result: ProbeResult | Rejected = probe_file(path)
            if isinstance(result, Rejected) and path != uri:  # a remote file's local copy: name the file itself
                result = dataclasses.replace(result, detail=result.detail.replace(path, uri))
            if isinstance(result, ProbeResult):
                result = check(result, clean) or result
            # Only videos that passed the gate need a signature: it decodes every frame, the probe's dearest work.
            if isinstance(result, ProbeResult) and near_dup is not None:
                signature = tuple(video_signature(path, near_dup))
    except OSError as e:
        _raise_if_store_unreachable(uri, e)
        result = Rejected("ingest", rejects.IO_ERROR, f"{type(e).__name__}: {e}")
    if isinstance(result, Rejected):
        return result.with_video_id(video_id)
    return ProbedVideo(uri, video_id, result, signature)


class VideoDecode:
    """One probed video's clips as they decode. Iterate for ``(span, rows)`` (rows as ``pick`` asks, each
    ``uint8 [T, H, W, 3]``); afterwards ``report`` says what happened and ``rejected`` why not one clip came out
    (None when at least one did). Never raises for a bad file."""

    def __init__(self, video: ProbedVideo, clip: ClipConfig, decode: DecodeConfig, pick: Picker) -> None:
        self.video, self.clip, self.decode, self.pick = video, clip, decode, pick
        self.report = DecodeReport()
        self.clips = 0

    def __iter__(self) -> Iterator[tuple[Span, list[np.ndarray]]]:
        try:
            with storage.open_local(self.video.uri) as path:
                for span, rows in decode_clips(path, self.video.probe, self.clip, self.decode, self.pick,
                                               self.report):
                    self.clips += 1
                    yield span, rows
        except OSError as e:
            _raise_if_store_unreachable(self.video.uri, e)
            self.report.error = f"{type(e).__name__}: {e}"

    @property
    def rejected(self) -> Rejected | None:
        if self.clips:
            return None
        detail = (self.report.error or self.report.fallback_reason
                  or f"no clip of at least {self.clip.min_clip_len_s} s")
        return Rejected("decode", rejects.UNDECODABLE, detail, video_id=self.video.video_id)


@dataclass
class DecodedVideo:
    """One video's decoded clips (``(span, rows)``), what the decoders did, and why not one clip came out (None
    when at least one did)."""

    video: ProbedVideo
    clips: list[tuple[Span, list[np.ndarray]]]
    report: DecodeReport
    rejected: Rejected | None

    def seconds(self, span: Span) -> tuple[float, float]:
        """Start and end of a span in seconds."""
        fps = float(self.video.probe.fps)
        return span.start_frame / fps, span.end_frame / fps


def _decode_job(video: ProbedVideo, clip: ClipConfig, decode: DecodeConfig,
                pick: Picker) -> Iterator[tuple[str, Any]]:
    # Runs in the decoding process: clips as they complete, then the report.
    decoding = VideoDecode(video, clip, decode, pick)
    for span, rows in decoding:
        yield "clip", (span, rows)
    yield "report", (decoding.report, decoding.rejected)


def decode_video(video: ProbedVideo, clip: ClipConfig, decode: DecodeConfig, pick: Picker) -> DecodedVideo:
    """Every clip of a probed video. With ``decode.isolate`` the decoders run in this worker's decoding process,
    under ``decode.video_timeout_s`` and ``decode.video_max_memory_mb``: a crash, hang or runaway allocation
    rejects the video (none of its clips are kept) instead of failing the task. Never raises for a bad file."""
    if not decode.isolate:
        items = list(_decode_job(video, clip, decode, pick))
        failure = None
    else:
        limits = contain.Limits(timeout_s=decode.video_timeout_s, max_memory_mb=decode.video_max_memory_mb)
        child = contain.shared()
        child.prepare(decode_lib.prepare, (decode,))
        child.prepare(shot_detectors.prepare, (clip,))
        outcome = child.run(_decode_job, (video, clip, decode, pick), limits)
        items, failure = outcome.items, outcome.failure
    if failure is not None:
        return DecodedVideo(video, [], DecodeReport(error=failure.detail), failure.with_video_id(video.video_id))
    report, rejected = items[-1][1]
    return DecodedVideo(video, [value for kind, value in items if kind == "clip"], report, rejected)


def open_video(uri: str, clean: CleanConfig, clip: ClipConfig, decode: DecodeConfig,
               pick: Picker, max_duration_s: float | None = None) -> DecodedVideo | Rejected:
    """The whole path for one URI: probe and gate it, then decode its clips (or hand back the reject). The probe
    is contained as the decoding is (``decode.isolate``, its time and memory caps). A video longer than
    ``max_duration_s`` (when given) is rejected as too_long before anything is decoded."""
    probed = probe_video(uri, clean, probe=ProbeConfig(isolate=decode.isolate, timeout_s=decode.video_timeout_s,
                                                       max_memory_mb=decode.video_max_memory_mb))
    if isinstance(probed, Rejected):
        return probed
    if max_duration_s is not None and probed.probe.duration_s > max_duration_s:
        return Rejected("clean", rejects.TOO_LONG, f"duration_s={probed.probe.duration_s:.1f} > {max_duration_s:g}",
                        probed.video_id)
    return decode_video(probed, clip, decode, pick)
