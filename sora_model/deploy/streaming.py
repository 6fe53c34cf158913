"""Streaming scoring's pure parts: a stream's name, the monitoring window a micro-batch falls in, and the
landed files Spark's file source hands over, named as the storage layer and batch scoring name them.

The Spark side (``pipelines/stream_score.py``) watches a landing prefix; each micro-batch is scored by the
per-video path batch scoring runs (``deploy.scoring``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from sora_model.lake import storage
from sora_model.lake.listing import ListingConfig

_NAME = re.compile(r"[^a-z0-9]+")


def stream_name(input_uri: str) -> str:
    """The name a stream over ``input_uri`` gets when none is given: the prefix's last folder name (readable in
    the lake) and a hash of the whole normalized URI (so two landing prefixes never share a checkpoint)."""
    uri = storage.normalize(input_uri)
    last = _NAME.sub("-", uri.rstrip("/").rsplit("/", 1)[-1].lower()).strip("-")[:40] or "landing"
    return f"{last}-{hashlib.sha256(uri.encode()).hexdigest()[:8]}"


def check_stream_name(name: str) -> str:
    """``name`` when it can name a folder and a table key (lower-case letters, digits, '-', '_')."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name):
        raise ValueError(f"stream name must be lower-case letters, digits, '-' or '_' (at most 64), got {name!r}")
    return name


@dataclass(frozen=True)
class Window:
    """A monitoring window: the predictions of a stream's micro-batches that start in ``[start, end)`` share one
    run id, and get one monitoring row once the window has closed, as a batch scoring run does."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, t: datetime, length_s: int) -> Window:
        """The window of ``length_s`` seconds (aligned to the Unix epoch, in UTC) that holds ``t``."""
        if length_s < 1:
            raise ValueError(f"window length must be >= 1 s, got {length_s}")
        secs = int(t.astimezone(timezone.utc).timestamp())
        start = datetime.fromtimestamp(secs - secs % length_s, timezone.utc)
        return cls(start, start + timedelta(seconds=length_s))

    def run_id(self, stream: str) -> str:
        """The run id its predictions carry: shaped like a job's (start time, six hex), the same on a replay."""
        return f"{self.start:%Y%m%dT%H%M%SZ}-{hashlib.sha256(stream.encode()).hexdigest()[:6]}"


def landed_uri(spark_uri: str, input_uri: str) -> str:
    """The storage URI of a file Spark's file source found under ``input_uri`` (as ``DataFrame.inputFiles``
    gives it: a URI, a space escaped as ``%20`` and a ``%`` as ``%25``), spelled as batch scoring's listing
    spells it: a plain path for local files, the input's own scheme for objects (``s3://`` where Hadoop says
    ``s3a://``)."""
    if storage.is_local(input_uri):
        if not storage.is_local(spark_uri):
            raise ValueError(f"the file source under local input {input_uri} returned {spark_uri}")
        return storage.local_path(unquote(spark_uri))
    base = storage.normalize(input_uri)
    scheme = storage.scheme(base)
    rest = spark_uri.split("://", 1)[1] if "://" in spark_uri else spark_uri
    return f"{scheme}://{unquote(rest)}"


def ignored(uri: str, input_uri: str, listing: ListingConfig) -> bool:
    """Whether a landed file is on the listing's ignore list (its name or a folder's under the input), as batch
    scoring's listing would skip it."""
    base = storage.normalize(input_uri).rstrip("/")
    rel = uri[len(base):] if uri.startswith(base) else uri.rsplit("/", 1)[-1]
    return any(listing.ignores(part) for part in rel.strip("/").split("/") if part)


def _log_lines(uri: str) -> list[str]:
    lines = storage.read_text(uri).splitlines()
    if not lines or not lines[0].startswith("v"):
        raise RuntimeError(f"{uri} is not a Structured Streaming log file this release reads (first line "
                           f"{lines[:1]}); stream with the Spark that requirements.txt pins")
    return lines[1:]


def _source_offset(checkpoint_uri: str, batch_id: int) -> int:
    """The file source's log offset at the end of query batch ``batch_id`` (-1 before the first)."""
    if batch_id < 0:
        return -1
    lines = _log_lines(storage.join(checkpoint_uri, "offsets", str(batch_id)))
    return int(json.loads(lines[1])["logOffset"])  # lines[0]: the batch's metadata; then one per source


def batch_files(checkpoint_uri: str, batch_id: int) -> list[tuple[str, int]]:
    """(URI as Spark spells it, modification time in ms) of every file query batch ``batch_id`` took, read from
    the stream's checkpoint: the file source's log lists each file it hands to a batch, empty ones too (Spark's
    scan of the batch leaves empty files out, and an empty file must become a reject like any other bad file)."""
    end, start = _source_offset(checkpoint_uri, batch_id), _source_offset(checkpoint_uri, batch_id - 1)
    folder = storage.join(checkpoint_uri, "sources", "0")
    names = set(storage.list_dir(folder))
    entries: list[dict] = []
    for offset in range(start + 1, end + 1):
        if str(offset) in names:
            name = str(offset)
        else:  # compacted: a "<k>.compact" file holds every entry up to k
            covering = sorted(int(n.split(".")[0]) for n in names if n.endswith(".compact")
                              and int(n.split(".")[0]) >= offset)
            if not covering:
                raise RuntimeError(f"the file source log {folder} has no entry for offset {offset}")
            name = f"{covering[0]}.compact"
        entries += [e for e in map(json.loads, _log_lines(storage.join(folder, name))) if e["batchId"] == offset]
    return sorted({(e["path"], int(e["timestamp"])) for e in entries})
