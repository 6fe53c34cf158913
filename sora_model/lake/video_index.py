"""The ``video_index`` table: every dataset's videos by content id and by LSH band, sorted by key, so a curate run
finds what its few new videos match among millions by reading a few row groups, not every video.

A table of one row per key: a video's content row (``key`` from its id: its file facts and frame signature,
what a duplicate check needs) and its band rows (``key`` from each anchor hash's band, ``bands`` of each of
``anchors`` hashes, tagged with that layout: what the near-duplicate search's LSH joins on). Each write is one
*segment* (a Delta commit of files sorted by ``key``, in row groups of ``ROW_GROUP_ROWS``): a look-up of K keys
reads the footers, then at most K row groups of each file. Segments are merged as they pile up (``compact``:
size levels, ``FANOUT`` small ones or two of a level into one), so a lake holds a few sorted runs whatever its
size and a look-up costs about the same at 10^4 and 10^7 clips.

Rows are written under the lake lock by curate's tables stage before the videos rows they index (so the index
holds every videos row), once per video (a retry looks its keys up first). A videos row is *done* (registered)
when its index rows' ``dataset_version`` is below the version a run builds. Per dataset, *marker* rows say the
index holds all its videos (content) and all their bands in one layout; ``ensure`` writes what is missing from
the videos table once (a lake written before this table, or another band layout).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from sora_model.lake import delta, object_store, storage
from sora_model.lake.layout import LakeLayout
from sora_model.lake.tables import arrow_schema
from sora_model.video.signature import BandLayout, evenly

__all__ = ["BANDS", "CONTENT", "BandLayout", "add", "band_keys", "compact", "content_keys", "ensure", "index_rows",
           "lookup", "lookup_bands", "lookup_videos"]

logger = logging.getLogger(__name__)

CONTENT = "video_index"
"""Content rows (and the markers): a video's facts by its content key."""
BANDS = "video_bands"
"""Band rows: five narrow columns, as there are ``bands * anchors`` of them per video."""
CONTENT_TAG = 1 << 62
"""Content keys (and markers) are ``CONTENT_TAG`` plus 60 bits of a hash; band keys are below it."""
ROW_GROUP_ROWS = 2048
"""Rows per Parquet row group: a look-up of K keys reads at most K groups of each file (at 10^7 clips, 3,200
band keys read about 6 M of the index's 96 M rows; the footers' statistics cost 0.2 s)."""
LEVEL_BASE_ROWS = 65_536
"""Segments up to this many rows are level 0; level n holds ``LEVEL_BASE_ROWS * FANOUT**(n-1)`` to ``* FANOUT**n``."""
FANOUT = 8
"""Level-0 segments are merged when there are this many; two of a higher level as soon as they meet."""
_CONTENT_COLUMNS = ["video_id", "uri", "signature", "duration_s", "width_px", "height_px"]
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over uint64s: band values spread evenly over the key space."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def content_keys(video_ids: Iterable[str]) -> np.ndarray:
    """The content key of each video id (int64): ``CONTENT_TAG`` plus 60 bits of the id's sha256."""
    return np.fromiter((CONTENT_TAG | (_hash64(v) >> 4) for v in video_ids), dtype=np.int64)


def _marker_key(what: str, dataset: str) -> int:
    """The key of a dataset's marker row ("content" or "bands"), among the content keys."""
    return int(content_keys([f"\x00{what}\x00{dataset}"])[0])


def band_keys(signatures: Sequence[Sequence[int]], layout: BandLayout) -> tuple[np.ndarray, np.ndarray]:
    """The distinct band keys of each signature's anchor hashes (``signature.evenly``, ``signature.bands``), and
    the index of the signature each belongs to: two signatures share a key when an anchor hash of each shares a
    whole band at the same position (the LSH candidates of ``candidate_pairs``), up to a 2^-62 collision that the
    hash-by-hash check drops."""
    chosen = [evenly(list(s or ()), layout.anchors) for s in signatures]
    lengths = np.array([len(c) for c in chosen], dtype=np.int64)
    owner = np.repeat(np.arange(len(chosen), dtype=np.int64), lengths)
    hashes = np.fromiter((h for c in chosen for h in c), dtype=np.int64, count=int(lengths.sum())).view(np.uint64)
    width = 64 // layout.bands
    mask = np.uint64((1 << width) - 1) if width < 64 else np.uint64((1 << 64) - 1)
    keys, owners = [], []
    tag = np.uint64(_hash64(layout.text))  # keys of two layouts never meet
    with np.errstate(over="ignore"):
        for i in range(layout.bands):
            value = (hashes >> np.uint64(i * width)) & mask
            salt = _mix(tag + np.uint64(i + 1) * _GOLDEN)  # the band's position
            keys.append((_mix(value ^ salt) >> np.uint64(2)).view(np.int64))  # 62 bits: below CONTENT_TAG
            owners.append(owner)
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([np.concatenate(owners), np.concatenate(keys)], axis=1), axis=0)
    return pairs[:, 1], pairs[:, 0]


def index_rows(dataset: str, version: Any, videos: Any,  # noqa: ANN401 - an int or a pyarrow Array; a Table
               layout: BandLayout | None) -> dict[str, Any]:
    """The index rows of ``videos`` (a pyarrow Table with video_id, uri, signature, duration_s, width_px,
    height_px) per table, sorted by key: one content row each and, with ``layout``, their band rows. ``version``
    is the dataset version being built (an int, or an int32 Array of one per video)."""
    import pyarrow as pa

    ids = videos["video_id"].to_pylist()
    vkeys = content_keys(ids)
    if isinstance(version, pa.ChunkedArray):
        version = version.combine_chunks()
    versions = version if isinstance(version, pa.Array) else pa.array([version] * len(ids), pa.int32())
    out = {CONTENT: _conform(pa.table({
        "dataset": pa.array([dataset] * len(ids), pa.string()), "key": pa.array(vkeys, pa.int64()),
        "dataset_version": versions, **{c: videos[c] for c in _CONTENT_COLUMNS}}), CONTENT).sort_by("key")}
    if layout is not None:
        keys, owner = band_keys(videos["signature"].to_pylist(), layout)
        out[BANDS] = _conform(pa.table({
            "dataset": pa.array([dataset] * len(keys), pa.string()), "key": pa.array(keys, pa.int64()),
            "video_key": pa.array(vkeys[owner], pa.int64()),
            "dataset_version": versions.take(pa.array(owner))}), BANDS).sort_by("key")
    return out


def _conform(rows: Any, table: str) -> Any:  # noqa: ANN401 - pyarrow
    import pyarrow as pa

    schema = arrow_schema(table)
    for field in schema:
        if field.name not in rows.column_names:
            rows = rows.append_column(field, pa.nulls(rows.num_rows, field.type))
    return rows.select(schema.names).cast(schema)


def _uri(lake_uri: str, table: str) -> str:
    return LakeLayout.of(lake_uri).table(table)


def _writer() -> Any:  # noqa: ANN401 - a deltalake WriterProperties
    from deltalake import WriterProperties

    return WriterProperties(max_row_group_size=ROW_GROUP_ROWS, compression="ZSTD")


def _one_value(value: str, rows: int) -> Any:  # noqa: ANN401 - a pyarrow DictionaryArray
    """``value`` ``rows`` times, dictionary-encoded (a merge of 10^8 rows holds 4 bytes a row for it)."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array([value], pa.string()))


def add(lake_uri: str, table: str, rows: Any) -> int:  # noqa: ANN401 - a pyarrow Table
    """Write ``rows`` (``index_rows``'s for ``table``) as one new segment in one commit, then merge segments that
    piled up (``compact``). Returns the rows written. The caller holds the lake lock and has looked the rows'
    keys up (a retry writes no row twice)."""
    from deltalake import write_deltalake

    if rows.num_rows == 0:
        return 0
    rows = rows.sort_by("key")
    rows = rows.set_column(rows.column_names.index("segment"), "segment", _one_value(uuid.uuid4().hex, rows.num_rows))
    delta.create(lake_uri, table, arrow_schema(table))
    uri = _uri(lake_uri, table)
    write_deltalake(uri, rows, mode="append", writer_properties=_writer(),
                    storage_options=object_store.delta_options(uri))
    compact(lake_uri, table)
    return rows.num_rows


def _level(rows: int) -> int:
    level, size = 0, LEVEL_BASE_ROWS
    while rows > size:
        level, size = level + 1, size * FANOUT
    return level


def _segments(table: Any) -> dict[str, tuple[int, list[str]]]:  # noqa: ANN401 - a DeltaTable
    """segment -> (rows, its files' paths relative to the table), from the log's statistics."""
    import pyarrow as pa

    actions = pa.table(table.get_add_actions(flatten=True))
    out: dict[str, tuple[int, list[str]]] = {}
    if "min.segment" not in actions.column_names:
        return out
    for path, rows, low, high in zip(*(actions[c].to_pylist() for c in ("path", "num_records", "min.segment",
                                                                          "max.segment"))):
        if low is None or low != high:  # not one segment's file (none is written so): left as it is
            continue
        held, paths = out.get(low, (0, []))
        out[low] = (held + int(rows or 0), [*paths, path])
    return out


def compact(lake_uri: str, table: str) -> int:
    """Merge ``table``'s segments by size level: ``FANOUT`` level-0 segments into one, two of a higher level into
    one, until no level has too many (each merge one commit that replaces exactly the merged segments' rows).
    Returns the merges made. A row is rewritten a few times per level, so the work per row grows with the log of
    the lake, and a look-up reads a few sorted runs."""
    from deltalake import write_deltalake

    merges = 0
    while True:
        delta_table = delta.open_table(lake_uri, table)
        if delta_table is None:
            return merges
        by_level: dict[int, list[str]] = {}
        segments = _segments(delta_table)
        for segment, (rows, _) in segments.items():
            by_level.setdefault(_level(rows), []).append(segment)
        due = [level for level, names in sorted(by_level.items()) if len(names) >= (FANOUT if level == 0 else 2)]
        if not due:
            if merges:
                # The merged segments' files: only curate reads this table, under the lake lock, from the newest
                # snapshot, so they go now rather than double the index on disk.
                delta_table.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
            return merges
        names = sorted(by_level[due[0]])
        merged = _read_files(lake_uri, table, [p for name in names for p in segments[name][1]]).sort_by("key")
        merged = merged.set_column(merged.column_names.index("segment"), "segment",
                                   _one_value(names[0], merged.num_rows))
        quoted = ", ".join(f"'{n}'" for n in names)
        uri = _uri(lake_uri, table)
        write_deltalake(uri, merged, mode="overwrite", predicate=f"segment IN ({quoted})",
                        writer_properties=_writer(), storage_options=object_store.delta_options(uri))
        logger.debug("%s: merged %d segments (%d rows, level %d)", table, len(names), merged.num_rows, due[0])
        merges += 1


def _read_files(lake_uri: str, table: str, paths: list[str]) -> Any:  # noqa: ANN401 - a pyarrow Table
    """Whole files of ``table`` (paths relative to it), the repeated strings dictionary-encoded."""
    from urllib.parse import unquote

    import pyarrow.dataset as ds

    fs, root = storage.filesystem(_uri(lake_uri, table))
    files = [f"{root.rstrip('/')}/{unquote(p)}" for p in paths]
    form = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=["dataset", "segment"]))
    return ds.dataset(files, format=form, filesystem=fs).to_table()


@lru_cache(maxsize=16)
def _footer(uri: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """A file's Parquet footer and the min and max key of each row group (files never change once written): a
    process that curates again (the cycle) parses the big segments' footers once. A few, as the footer of a
    segment of 10^8 rows holds tens of MB."""
    import pyarrow.parquet as pq

    fs, path = storage.filesystem(uri)
    with fs.open_input_file(path) as f:
        meta = pq.ParquetFile(f).metadata
    column = meta.schema.names.index("key")
    n = meta.num_row_groups
    low, high = np.empty(n, np.int64), np.empty(n, np.int64)
    for i in range(n):
        stats = meta.row_group(i).column(column).statistics
        low[i], high[i] = (stats.min, stats.max) if stats is not None and stats.has_min_max else (
            np.iinfo(np.int64).min, np.iinfo(np.int64).max)
    return meta, low, high


def row_groups(low: np.ndarray, high: np.ndarray, keys: np.ndarray) -> list[int]:
    """The row groups (of a file sorted by key: their ``low`` and ``high`` keys) that may hold one of ``keys``
    (sorted, distinct)."""
    at = np.searchsorted(high, keys)  # the first group whose highest key is not below each key
    inside = at < len(high)
    at, keys = at[inside], keys[inside]
    return np.unique(at[low[at] <= keys]).tolist()


def lookup(lake_uri: str, table: str, dataset: str, keys: Iterable[int], columns: list[str]) -> Any:  # noqa: ANN401
    """The rows of ``table`` of ``dataset`` whose key is one of ``keys`` (``key`` and ``columns``), reading only the
    row groups whose key range holds one (the files in parallel): an empty Table when there are none."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    wanted = np.unique(np.fromiter(keys, dtype=np.int64))
    schema = arrow_schema(table)
    names = list(dict.fromkeys(["key", *columns]))
    empty = pa.Table.from_pylist([], schema=pa.schema([schema.field(n) for n in names]))
    delta_table = delta.open_table(lake_uri, table)
    if delta_table is None or not len(wanted):
        return empty
    uris = delta.files_within(delta_table, {"key": (int(wanted[0]), int(wanted[-1]))})
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(uris)))) as pool:  # pyarrow reads without the GIL
        found = [rows for rows in pool.map(lambda uri: _lookup_file(uri, dataset, wanted, empty.schema), uris)
                 if rows is not None]
    return pa.concat_tables(found) if found else empty


def _lookup_file(uri: str, dataset: str, wanted: np.ndarray, schema: Any) -> Any:  # noqa: ANN401
    """``lookup`` in one file: its row groups that may hold a key, then their rows that do (filtered on the key
    before any other column is decoded to plain values), as ``schema``'s columns."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    meta, low, high = _footer(uri)
    groups = row_groups(low, high, wanted)
    if not groups:
        return None
    fs, path = storage.filesystem(uri)
    with fs.open_input_file(path) as f:
        rows = pq.ParquetFile(f, metadata=meta, read_dictionary=["dataset"]).read_row_groups(
            groups, columns=list(dict.fromkeys([*schema.names, "dataset"])))
    # Plain types before a filter: a file delta-rs rewrote (a marker deleted) reads as string_view, which filters
    # refuse; the dataset stays dictionary-encoded until the rows are the few with a wanted key.
    of_dataset = rows["dataset"]
    rows = rows.select(schema.names).cast(schema).append_column("dataset_", of_dataset)
    rows = rows.filter(pc.is_in(rows["key"], value_set=pa.array(wanted)))
    return rows.filter(pc.equal(rows["dataset_"].cast(pa.string()), dataset)).select(schema.names)


def lookup_videos(lake_uri: str, dataset: str, video_ids: Iterable[str]) -> Any:  # noqa: ANN401 - pa.Table
    """The content rows of ``dataset``'s videos among ``video_ids`` (any version: ``dataset_version`` says which
    are done): video_id, dataset_version and the facts a duplicate check needs."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = list(video_ids)
    rows = lookup(lake_uri, CONTENT, dataset, content_keys(ids), ["dataset_version", *_CONTENT_COLUMNS])
    return rows.filter(pc.is_in(rows["video_id"], value_set=pa.array(ids, pa.string())))


def lookup_bands(lake_uri: str, dataset: str, signatures: Sequence[Sequence[int]],  # noqa: ANN401
                 layout: BandLayout) -> Any:  # noqa: ANN401 - a pyarrow Table
    """The content rows of ``dataset``'s videos with a band key in common with one of ``signatures`` (any
    version)."""
    import pyarrow.compute as pc

    keys, _ = band_keys(signatures, layout)
    hits = lookup(lake_uri, BANDS, dataset, keys, ["video_key"])
    rows = lookup(lake_uri, CONTENT, dataset, np.unique(hits["video_key"].to_numpy()),
                  ["dataset_version", *_CONTENT_COLUMNS])
    return rows.filter(pc.is_valid(rows["video_id"]))  # not a marker


def ensure(lake_uri: str, dataset: str, layout: BandLayout, version: int, undone: Iterable[str]) -> int:
    """Make the index hold every videos row of ``dataset`` (content rows) and their band rows in ``layout``,
    writing what its markers say is missing from the videos table (one read of the dataset's videos: the first
    run of this release on an old lake, or the first with another band layout). ``undone`` are the ids of videos
    a crashed run at ``version`` left (indexed at ``version``: not done); the others are done (0). Returns the
    rows written. The caller holds the lake lock.

    A dataset has one bands marker, naming its layout: the runs after index their videos in that layout only, so
    a marker of an older layout would claim band rows that are missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    markers = {"content": _marker_key("content", dataset), "bands": _marker_key("bands", dataset)}
    have = lookup(lake_uri, CONTENT, dataset, markers.values(), ["uri"])
    said = dict(zip(have["key"].to_pylist(), have["uri"].to_pylist()))
    missing = {what for what, key in markers.items() if key not in said}
    if said.get(markers["bands"], layout.text) != layout.text:
        missing.add("bands")
        delta.delete_matching(lake_uri, CONTENT, pa.table({"dataset": pa.array([dataset], pa.string()),
                                                           "key": pa.array([markers["bands"]], pa.int64())}))
    if not missing:
        return 0
    videos = delta.read_table(lake_uri, "videos", ["dataset", *_CONTENT_COLUMNS],
                              where=pc.field("dataset") == dataset)
    if videos is None:
        schema = arrow_schema("videos")
        videos = pa.Table.from_pylist([], schema=pa.schema([schema.field(c) for c in ["dataset", *_CONTENT_COLUMNS]]))
    videos = videos.combine_chunks()
    undone_ids = pa.array(sorted(set(undone)), pa.string())
    versions = pc.if_else(pc.is_in(videos["video_id"], value_set=undone_ids), version, 0).cast(pa.int32())
    rows = index_rows(dataset, versions, videos, layout if "bands" in missing else None)
    written = 0
    if BANDS in rows:
        written += add(lake_uri, BANDS, rows[BANDS])
    # The markers last, with the content rows: a crash before leaves them missing, and the next run writes again.
    content = rows[CONTENT] if "content" in missing else rows[CONTENT].slice(0, 0)
    marks = pa.Table.from_pylist([{"dataset": dataset, "key": markers[what], "dataset_version": 0,
                                   "uri": layout.text if what == "bands" else None} for what in sorted(missing)],
                                 schema=arrow_schema(CONTENT))
    written += add(lake_uri, CONTENT, pa.concat_tables([content, marks]))
    logger.info("video index: indexed %d videos of dataset %s (%s)", videos.num_rows, dataset,
                ", ".join(sorted(missing)))
    return written
