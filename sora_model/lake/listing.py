"""List a corpus: every entry under a local folder or an object-store prefix, so that each one is accounted for.

What is a video is decided later by content (the probe), never by the file name: a listing only sets aside the
names on the ignore list (hidden files, the labels file, manifests), and counts them.

Local folders are walked with ``os.scandir``. Symbolic links are followed, with a visited set of real
directories: a link back to a folder already listed (a loop, or a second way into the same folder) is skipped
and counted, so listing always ends. A link to a file is listed under the link's own name; a dangling link or a
file-link loop is listed too, and the probe rejects it as ``broken_link``. A named pipe, socket or device (or a
link to one) is listed, and the probe rejects it as ``not_regular_file`` without reading it; a folder that
cannot be listed is listed as an entry of its own, which the probe rejects as ``unreadable_folder``: the rest
of the input is curated.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
import time
from dataclasses import dataclass, field

import pyarrow.fs as pafs

from sora_model.lake import storage

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.csv"
"""The name of a labels CSV: on the ignore list, and recorded by the listing (``Listing.labels``)."""
DEFAULT_IGNORE = (".*", "_SUCCESS", LABELS_FILE, "manifest.json", "*.manifest", "*.md5", "*.sha256")


@dataclass(frozen=True, kw_only=True)
class ListingConfig:
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    """Name patterns (shell globs, matched against every folder and file name under the input) that are not
    corpus entries: hidden names ('.*'), Spark's _SUCCESS marker, the labels file, manifests and checksum
    files. They are counted as ignored; every other file is probed, whatever its name ends with."""
    timeout_s: float = 3600.0
    """Listing the input may take at most this long; beyond it the run stops with an error naming how far it
    got (a mount that hangs, a prefix with far more objects than expected)."""

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if any(not p for p in self.ignore):
            raise ValueError(f"ignore patterns must not be empty, got {self.ignore!r}")

    def ignores(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.ignore)


@dataclass(frozen=True)
class Listing:
    files: list[tuple[str, int, int]]
    """(uri, size_bytes, modified_ms) of every entry to probe, sorted by uri. Dangling links, pipes, sockets,
    devices and folders that could not be listed are in it (the probe rejects each with its reason)."""
    ignored: int
    """Entries on the ignore list."""
    links_skipped: int = 0
    """Links to folders already listed (loops, second ways in); their files are listed once, by their own path."""
    labels: list[str] = field(default_factory=list)
    """URIs of the ``labels.csv`` files the listing passed (ignored as corpus entries), so nothing lists the input
    again to find them."""


class ListingTimeout(TimeoutError):
    pass


class _Clock:
    def __init__(self, root: str, timeout_s: float) -> None:
        self.root, self.timeout_s, self.start, self.seen = root, timeout_s, time.monotonic(), 0

    def tick(self) -> None:
        self.seen += 1
        if self.seen % 256 == 0 and time.monotonic() - self.start > self.timeout_s:
            raise ListingTimeout(f"listing {self.root} took over {self.timeout_s:g} s ({self.seen} entries so far); "
                                 f"raise listing.timeout_s, or curate it in parts (one prefix per run)")


def list_corpus(root_uri: str, cfg: ListingConfig) -> Listing:
    """Every entry under ``root_uri`` (a folder or an object-store prefix). Raises FileNotFoundError when the root
    does not exist and ListingTimeout past ``cfg.timeout_s``."""
    clock = _Clock(root_uri, cfg.timeout_s)
    listing = _list_local(root_uri, cfg, clock) if storage.is_local(root_uri) else _list_remote(root_uri, cfg, clock)
    listing.files.sort()
    return listing


def _list_local(root_uri: str, cfg: ListingConfig, clock: _Clock) -> Listing:
    root = storage.normalize(root_uri)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"input {root_uri} does not exist or is not a folder")
    files: list[tuple[str, int, int]] = []
    labels: list[str] = []
    ignored = skipped = 0
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in visited:
            logger.info("not listing %s again: it leads to a folder already listed (a link loop?)", folder)
            skipped += 1
            continue
        visited.add((st.st_dev, st.st_ino))
        try:
            entries = list(os.scandir(folder))
        except OSError as e:
            if folder == root:
                raise OSError(f"cannot list the input {folder}: {e}; fix its permissions") from e
            logger.warning("cannot list %s (%s): it is a reject, the rest of the input is curated", folder, e)
            files.append((folder, 0, int(st.st_mtime_ns // 1_000_000)))
            continue
        for entry in entries:
            clock.tick()
            if cfg.ignores(entry.name):
                ignored += 1
                if entry.name == LABELS_FILE and entry.is_file():
                    labels.append(entry.path)
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:  # a link loop (ELOOP) and the like: listed, and the probe says what is wrong
                is_dir = False
            if is_dir:
                stack.append(entry.path)
                continue
            try:
                info = entry.stat(follow_symlinks=True)
            except OSError:  # dangling link or link loop
                info = entry.stat(follow_symlinks=False)
            # Pipes, sockets and devices too: the probe rejects them (as not_regular_file) without reading them.
            size = int(info.st_size) if entry.is_symlink() or stat.S_ISREG(info.st_mode) else 0
            files.append((entry.path, size, int(info.st_mtime_ns // 1_000_000)))
    return Listing(files=files, ignored=ignored, links_skipped=skipped, labels=labels)


def _list_remote(root_uri: str, cfg: ListingConfig, clock: _Clock) -> Listing:
    """One folder (common prefix) at a time: the store's answer for one folder is all that is held besides the
    listing itself (a recursive listing held every object's entry twice, as the client's and as ours), and an
    ignored folder is not listed at all."""
    fs, root = storage.filesystem(root_uri)
    prefix = root_uri[: len(root_uri) - len(root_uri.split("://", 1)[1])]  # 's3://' as the user wrote it
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"input {root_uri} does not exist")
    files, labels, ignored = [], [], 0
    stack = [root]
    while stack:
        for info in fs.get_file_info(pafs.FileSelector(stack.pop(), allow_not_found=True)):
            clock.tick()
            if cfg.ignores(info.base_name):
                ignored += 1
                if info.base_name == LABELS_FILE and info.type == pafs.FileType.File:
                    labels.append(prefix + info.path)
                continue
            if info.type == pafs.FileType.Directory:
                stack.append(info.path)
            elif info.type == pafs.FileType.File:
                mtime_ms = int(info.mtime_ns // 1_000_000) if info.mtime_ns is not None else 0
                files.append((prefix + info.path, int(info.size or 0), mtime_ms))
    return Listing(files=files, ignored=ignored, labels=labels)


def describe_files(uris: list[str]) -> list[tuple[str, int, int]]:
    """(uri, size_bytes, modified_ms) of each file named, as ``list_corpus`` lists an entry: what the streaming
    scorer learns of the files a micro-batch took. A file gone since is listed with size 0 (the probe rejects it
    with its reason)."""
    out = []
    for uri in uris:
        fs, path = storage.filesystem(uri)
        info = fs.get_file_info(path)
        mtime_ms = int(info.mtime_ns // 1_000_000) if info.mtime_ns is not None else 0
        out.append((uri, int(info.size or 0) if info.type == pafs.FileType.File else 0, mtime_ms))
    return out
