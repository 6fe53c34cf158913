"""One way to name and open files on a laptop and on a cluster: local paths, ``file://`` and object-store URIs.

Executors get URIs, never driver-local handles. Local files are used in place; remote objects are streamed to a
local temporary file first, because decord and PyAV's demuxers want a seekable local file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs

from sora_model.lake import object_store

# Hadoop names for the same stores pyarrow knows under another scheme.
_SCHEME_ALIASES = {"gcs": "gs"}
_READ_CHUNK = 8 << 20


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def scheme(uri: str) -> str:
    """The URI's scheme ('' for a plain path). Only the scheme is parsed: a file name may hold ``#``, ``?`` and
    ``%``, which are characters of the name here, never a fragment, a query or an escape."""
    m = _SCHEME.match(uri)
    return m.group(1).lower() if m else ""


def is_local(uri: str) -> bool:
    return scheme(uri) in ("", "file")


def local_path(uri: str) -> str:
    """Filesystem path of a local URI (``/a/b``, ``file:///a/b``, ``file:/a/b``); every other character is kept."""
    if not is_local(uri):
        raise ValueError(f"{uri} is not a local path")
    if not uri.startswith("file:"):
        return uri
    rest = uri[len("file:"):]
    if rest.startswith("//"):  # file://host/path: only an empty host or localhost name this machine
        host, _, path = rest[2:].partition("/")
        if host not in ("", "localhost"):
            raise ValueError(f"{uri} names a file on host {host!r}; give a path on this machine")
        rest = "/" + path
    return rest


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
    if object_store.is_s3(uri):
        return object_store.s3_filesystem(uri)
    name = scheme(uri)
    fs, path = pafs.FileSystem.from_uri(_SCHEME_ALIASES.get(name, name) + uri[len(name):])
    return fs, path


@contextlib.contextmanager
def open_local(uri: str) -> Iterator[str]:
    """Yield a local path holding the bytes of ``uri``; a temporary copy for remote objects, removed after."""
    if is_local(uri):
        yield local_path(uri)
        return
    fd, tmp = tempfile.mkstemp(prefix="sora-", suffix=Path(uri).suffix)
    os.close(fd)
    try:
        download(uri, tmp)
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


def write_bytes(uri: str, data: bytes) -> None:
    fs, path = filesystem(uri)
    make_parent(fs, path)
    with fs.open_output_stream(path) as out:
        out.write(data)


def read_bytes(uri: str) -> bytes:
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as src:
        return src.read()


def make_parent(fs: pafs.FileSystem, path: str) -> None:
    """Create the folder a file is about to be written into. Only local disks need it: object stores have no
    folders, and creating them there costs a request per level for marker objects nobody reads."""
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)


def download(uri: str, local_file: str) -> None:
    """Copy ``uri`` to a local file, streaming."""
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as src, open(local_file, "wb") as out:
        shutil.copyfileobj(src, out, _READ_CHUNK)


def upload(local_file: str, uri: str) -> None:
    """Copy a local file to ``uri``, streaming."""
    fs, path = filesystem(uri)
    make_parent(fs, path)
    with open(local_file, "rb") as src, fs.open_output_stream(path) as out:
        shutil.copyfileobj(src, out, _READ_CHUNK)


def write_text(uri: str, text: str) -> None:
    write_bytes(uri, text.encode())


def read_text(uri: str) -> str:
    return read_bytes(uri).decode()


def append_text(uri: str, text: str) -> None:
    """Append to a text file (created if missing). Object stores cannot append: there the file is rewritten."""
    if is_local(uri):
        path = Path(local_path(uri))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(text)
        return
    write_text(uri, (read_text(uri) if exists(uri) else "") + text)


def is_file(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.get_file_info(path).type == pafs.FileType.File


def list_dir(uri: str) -> list[str]:
    """Names of the entries directly under ``uri``, sorted; empty when it does not exist."""
    fs, path = filesystem(uri)
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    except NotADirectoryError:
        return []
    return sorted(info.base_name for info in infos)


def list_files(uri: str) -> list[str]:
    """Paths (inside the filesystem) of every file under ``uri``, recursively; empty when it does not exist."""
    fs, path = filesystem(uri)
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    return sorted(info.path for info in infos if info.type == pafs.FileType.File)


@contextlib.contextmanager
def publishing(final_uri: str, marker: str) -> Iterator[str]:
    """Yield a local directory to fill; on a clean exit its files appear at ``final_uri``, ``marker`` last.

    Readers treat a directory as complete only when its ``marker`` file exists, so nobody ever sees half of it.
    Locally the directory is filled in place under a temporary name beside ``final_uri`` and renamed into place
    (an earlier attempt's directory is removed just before). Object stores have no rename: an earlier
    attempt's marker is removed first (the directory reads as incomplete from then on), the files are uploaded,
    files the new version does not have are removed, and ``marker`` is written last. On an exception nothing new
    becomes visible.
    """
    if is_local(final_uri):
        final = Path(normalize(final_uri))
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    else:
        tmp = Path(tempfile.mkdtemp(prefix="sora-publish-"))
    try:
        yield str(tmp)
        if not (tmp / marker).is_file():
            raise RuntimeError(f"bug: nothing wrote {marker} into the directory being published to {final_uri}")
        if is_local(final_uri):
            if final.exists():  # a rerun after a crash between publishing and whatever came next
                shutil.rmtree(final)
            os.replace(tmp, final)
            return
        fs, root = filesystem(final_uri)
        marker_path = join(root, marker)
        if fs.get_file_info(marker_path).type == pafs.FileType.File:
            fs.delete_file(marker_path)
        new = {p.relative_to(tmp).as_posix(): p for p in tmp.rglob("*") if p.is_file() and p.name != marker}
        for rel, p in sorted(new.items()):
            upload(str(p), join(final_uri, rel))
        for path in list_files(final_uri):
            if path.removeprefix(root + "/") not in new:
                fs.delete_file(path)
        write_bytes(join(final_uri, marker), (tmp / marker).read_bytes())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
