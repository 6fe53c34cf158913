"""Local copies of remote shards, so a trainer on an object-store lake reads row groups from a memory-mapped local
file at memory speed instead of one network request per row group.

Bounded: before a copy is added, the least recently used copies are removed until the cache fits ``max_bytes``
(a shard larger than the whole budget is still copied; the bound is then exceeded by that one file). Shard files
are immutable (their names are unique per writing task attempt), so a shard's URI names its content and a copy is
never stale. DataLoader workers and ranks on one machine may share the directory: copies appear by rename, and a
copy removed while another process has it memory-mapped stays readable there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from sora_model.lake import storage

logger = logging.getLogger(__name__)


def default_cache_dir() -> str:
    return os.path.join(tempfile.gettempdir(), f"sora-shard-cache-{os.getuid()}")


class ShardCache:
    def __init__(self, directory: str | None = None, max_bytes: int = 32 << 30) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
        self.dir = Path(directory or default_cache_dir())
        self.max_bytes = max_bytes

    def local(self, uri: str) -> str:
        """A local path with the bytes of shard ``uri``: the file itself for local URIs, else a cached copy."""
        if storage.is_local(uri):
            return storage.local_path(uri)
        path = self.dir / (hashlib.sha256(uri.encode()).hexdigest()[:32] + ".parquet")
        try:
            os.utime(path)  # most recently used
            return str(path)
        except FileNotFoundError:
            pass
        fs, remote = storage.filesystem(uri)
        size = fs.get_file_info(remote).size or 0
        self.dir.mkdir(parents=True, exist_ok=True)
        self._make_room(size)
        part = path.with_name(f"{path.name}.{os.getpid()}.part")
        try:
            storage.download(uri, str(part))
            os.replace(part, path)
        finally:
            part.unlink(missing_ok=True)
        return str(path)

    def _make_room(self, incoming: int) -> None:
        copies = []
        for p in self.dir.glob("*.parquet"):
            try:
                st = p.stat()
            except FileNotFoundError:  # removed by another process meanwhile
                continue
            copies.append((st.st_mtime, st.st_size, p))
        total = sum(size for _, size, _ in copies)
        for _, size, p in sorted(copies):
            if total + incoming <= self.max_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size
        if incoming > self.max_bytes:
            logger.warning("a shard of %.1f MB is larger than the whole shard cache (%.1f MB)", incoming / 2**20,
                           self.max_bytes / 2**20)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.dir.glob("*.parquet")) if self.dir.is_dir() else 0
