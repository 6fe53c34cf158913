"""Parquet shard writer: files of about ``shard_size_mb`` with row groups of about ``row_group_size_mb``.

Each writer writes files whose names start with a prefix unique to its task attempt, so a retried or
speculative attempt never overwrites another's file; the driver registers only the files that committed
attempts report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.parquet as pq

from sora_model.dataset.schema import ARROW_SCHEMA
from sora_model.lake import storage

logger = logging.getLogger(__name__)

Compression = Literal["none", "snappy", "zstd", "lz4", "gzip"]
COMPRESSIONS: tuple[str, ...] = get_args(Compression)


@dataclass(frozen=True, kw_only=True)
class ShardConfig:
    shard_size_mb: float = 64.0
    """Target size of one Parquet shard; a shard is closed once it reaches this."""
    row_group_size_mb: float = 8.0
    """Target size of a row group (the unit readers split across ranks and workers)."""
    compression: Compression = "none"
    """Parquet codec. uint8 video frames barely compress; 'none' keeps the reader at memory speed."""

    def __post_init__(self) -> None:
        if self.shard_size_mb <= 0 or self.row_group_size_mb <= 0:
            raise ValueError("shard_size_mb and row_group_size_mb must be > 0")
        if self.row_group_size_mb > self.shard_size_mb:
            raise ValueError(f"row_group_size_mb ({self.row_group_size_mb}) must be <= shard_size_mb "
                             f"({self.shard_size_mb})")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, got {self.compression!r}")


@dataclass(frozen=True)
class ShardFile:
    uri: str
    split: str
    rows: int
    size_bytes: int


class _OpenShard:
    def __init__(self, uri: str, schema: pa.Schema, compression: str) -> None:
        fs, path = storage.filesystem(uri)
        storage.make_parent(fs, path)
        self.uri = uri
        self.stream = fs.open_output_stream(path)
        small = ["clip_id", "video_id", "label", "label_name", "split", "aug_index"]
        # Frames are unique, incompressible blobs: dictionary encoding only costs hashing on write.
        self.writer = pq.ParquetWriter(self.stream, schema, compression=compression, use_dictionary=small,
                                       write_statistics=small)
        self.rows = 0
        self.bytes = 0

    def close(self) -> int:
        self.writer.close()
        size = self.stream.tell()
        self.stream.close()
        return size


class ShardWriter:
    """Buffers rows per split, writes a row group when the buffer is full, rolls files at the size target."""

    def __init__(self, out_uri: str, prefix: str, schema: pa.Schema, cfg: ShardConfig) -> None:
        self.out_uri = out_uri
        self.prefix = prefix
        self.schema = schema
        self.cfg = cfg
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._buffered_bytes: dict[str, int] = {}
        self._open: dict[str, _OpenShard] = {}
        self._seq: dict[str, int] = {}
        self.files: list[ShardFile] = []

    def write(self, row: dict[str, Any]) -> str:
        """Add one row; returns the URI of the shard it will be in."""
        split = row["split"]
        self._buffers.setdefault(split, []).append(row)
        self._buffered_bytes[split] = self._buffered_bytes.get(split, 0) + len(row["frames"])
        shard = self._shard(split)
        if self._buffered_bytes[split] >= self.cfg.row_group_size_mb * 2**20:
            self._flush(split)
        return shard.uri

    def _shard(self, split: str) -> _OpenShard:
        if split not in self._open:
            seq = self._seq.get(split, 0)
            self._seq[split] = seq + 1
            uri = storage.join(self.out_uri, split, f"part-{self.prefix}-{seq:05d}.parquet")
            self._open[split] = _OpenShard(uri, self.schema, self.cfg.compression)
        return self._open[split]

    def _flush(self, split: str) -> None:
        rows = self._buffers.get(split)
        if not rows:
            return
        shard = self._shard(split)
        table = pa.Table.from_pylist(rows, schema=ARROW_SCHEMA).replace_schema_metadata(self.schema.metadata)
        shard.writer.write_table(table, row_group_size=len(rows))
        shard.rows += len(rows)
        shard.bytes += self._buffered_bytes[split]
        self._buffers[split] = []
        self._buffered_bytes[split] = 0
        if shard.bytes >= self.cfg.shard_size_mb * 2**20:
            self._close(split)

    def _close(self, split: str) -> None:
        shard = self._open.pop(split)
        size = shard.close()
        self.files.append(ShardFile(shard.uri, split, shard.rows, size))

    def close(self) -> list[ShardFile]:
        for split in list(self._buffers):
            self._flush(split)
        for split in list(self._open):
            self._close(split)
        return self.files
