"""One way to name and open files on a laptop and on a cluster: local paths, ``file://`` and object-store URIs.

Executors get URIs, never driver-local handles. Local files are used in place; remote objects are streamed to a
local temporary file first, because decord and PyAV's demuxers want a seekable local file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

# Hadoop names for the same stores pyarrow knows under another scheme.
_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}
_READ_CHUNK = 8 << 20


def is_local(uri: str) -> bool:
    return urlparse(uri).scheme in ("", "file")


def local_path(uri: str) -> str:
    """Filesystem path of a local URI (``/a/b``, ``file:///a/b``, ``file:/a/b``)."""
    if not is_local(uri):
        raise ValueError(f"{uri} is not a local path")
    return urlparse(uri).path if uri.startswith("file:") else uri


def normalize(uri: str) -> str:
    """Absolute, scheme-less form for local paths (so the same file has one name); remote URIs unchanged."""
    if is_local(uri):
        return str(Path(local_path(uri)).expanduser().resolve())
    return uri.rstrip("/")


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow filesystem and path inside it for ``uri``."""
    if is_local(uri):
        return pafs.LocalFileSystem(), normalize(uri)
    parsed = urlparse(uri)
    scheme = _SCHEME_ALIASES.get(parsed.scheme, parsed.scheme)
    fs, path = pafs.FileSystem.from_uri(uri.replace(parsed.scheme + "://", scheme + "://", 1))
    return fs, path


@contextlib.contextmanager
def open_local(uri: str) -> Iterator[str]:
    """Yield a local path holding the bytes of ``uri``; a temporary copy for remote objects, removed after."""
    if is_local(uri):
        yield local_path(uri)
        return
    fs, path = filesystem(uri)
    suffix = Path(path).suffix
    fd, tmp = tempfile.mkstemp(prefix="sora-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out, fs.open_input_stream(path) as src:
            shutil.copyfileobj(src, out, _READ_CHUNK)
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


@contextlib.contextmanager
def open_local_dir(uri: str) -> Iterator[str]:
    """Yield a local directory with the files of ``uri`` (a temporary copy of a remote prefix, removed after)."""
    if is_local(uri):
        yield local_path(uri)
        return
    import pyarrow.fs as pafs

    fs, path = filesystem(uri)
    tmp = tempfile.mkdtemp(prefix="sora-")
    try:
        pafs.copy_files(path, tmp, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def delete_dir(uri: str) -> None:
    fs, path = filesystem(uri)
    with contextlib.suppress(FileNotFoundError):
        fs.delete_dir(path)


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def write_text(uri: str, text: str) -> None:
    fs, path = filesystem(uri)
    parent = path.rsplit("/", 1)[0]
    fs.create_dir(parent, recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(text.encode())


def read_text(uri: str) -> str:
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as src:
        return src.read().decode()
