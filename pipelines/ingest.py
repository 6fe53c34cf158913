"""The listing's rows as Spark sees them. Listing itself is the library's (``sora_model.lake.listing``): names,
sizes and modification times only, through the same storage layer for folders and object stores; executors open
the files by URI.

``binaryFile`` is not the source of truth: it silently drops zero-byte files and ships whole videos through the
JVM, and Hadoop's recursive listing follows a folder link loop forever.
"""

from __future__ import annotations

from sora_model.lake.listing import Listing, ListingConfig, list_corpus

__all__ = ["FILE_KEY", "FILE_SCHEMA", "Listing", "ListingConfig", "list_corpus"]

FILE_KEY = ["uri", "size_bytes", "modified_ms"]
"""A file is the same file when its uri, size and modification time are."""
FILE_SCHEMA = "uri string, size_bytes long, modified_ms long"
"""Spark schema of a listing's rows."""
