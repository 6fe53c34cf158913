"""List a corpus ourselves, through Hadoop's FileSystem (local folders and object stores alike).

``binaryFile`` is not the source of truth: it silently drops zero-byte files and ships whole videos through the
JVM. Listing returns names, sizes and modification times only; executors open the files by URI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession

from pipelines.tables import spark_uri
from sora_model.lake import storage

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".mpg", ".mpeg", ".flv",
                    ".wmv", ".3gp", ".ogv")

FILE_KEY = ["uri", "size_bytes", "modified_ms"]
"""A file is the same file when its uri, size and modification time are."""
FILE_SCHEMA = "uri string, size_bytes long, modified_ms long"
"""Spark schema of a listing's rows."""


@dataclass(frozen=True)
class Listing:
    files: list[tuple[str, int, int]]
    """(uri, size_bytes, modified_ms) of every file with a video extension, sorted by uri."""
    ignored: int
    """Files under the root without a video extension (labels, manifests, sidecars)."""


def _as_uri(hadoop_path: str) -> str:
    # Hadoop writes local files as file:/abs/path; keep the project's plain absolute form for them.
    return storage.normalize(hadoop_path) if hadoop_path.startswith("file:") else hadoop_path


def list_files(spark: SparkSession, root_uri: str, extensions: tuple[str, ...]) -> Listing:
    jvm = spark._jvm  # noqa: SLF001
    path = jvm.org.apache.hadoop.fs.Path(spark_uri(root_uri))
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())  # noqa: SLF001
    if not fs.exists(path):
        raise FileNotFoundError(f"input {root_uri} does not exist")
    wanted = tuple(e.lower() for e in extensions)
    files, ignored = [], 0
    it = fs.listFiles(path, True)
    while it.hasNext():
        status = it.next()
        uri = _as_uri(status.getPath().toString())
        if uri.lower().endswith(wanted):
            files.append((uri, int(status.getLen()), int(status.getModificationTime())))
        else:
            ignored += 1
    files.sort()
    return Listing(files=files, ignored=ignored)
