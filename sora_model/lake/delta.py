"""The lake's Delta tables without a JVM (delta-rs): reads for what runs outside Spark (training, the dataset
catalog, the report), and the MERGE of small increments in the process that holds them (``pipelines/tables.py``
sends large ones through Spark)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sora_model.lake import object_store, storage
from sora_model.lake.layout import LakeLayout
from sora_model.lake.tables import key_condition


Span = tuple[Any, Any]
"""Inclusive bounds ``(low, high)`` of one column; None on either side: unbounded."""


def read_table(lake_uri: str, name: str, columns: list[str] | None = None,
               where: Any | None = None, within: dict[str, Span] | None = None) -> Any | None:  # noqa: ANN401
    """The table ``name`` of the lake as a pyarrow Table (only ``columns`` when given, only rows matching the
    pyarrow expression ``where`` when given); None when the lake has no such table yet.

    ``within`` (column -> inclusive bounds) reads only the files whose statistics in the log say they may hold a
    row inside every span: the rows a recent run wrote (``dataset_version >= v``) cost a few files, not the
    table. It prunes files, not rows: say the same in ``where`` to get only those rows.

    delta-rs gives the snapshot (its files and schema) and pyarrow reads the Parquet files: a process that read
    through delta-rs's own pyarrow dataset aborts at exit most of the time ("terminate called without an active
    exception", delta-io/delta-rs#2184; 10 of 12 runs here). Tables whose files need more than plain Parquet
    reading (deletion vectors, column mapping: reader version > 1; partition columns) are left to delta-rs."""
    import pyarrow.dataset as ds

    table = open_table(lake_uri, name)
    if table is None:
        return None
    if table.protocol().min_reader_version > 1 or table.metadata().partition_columns:
        out = table.to_pyarrow_table(columns=columns if where is None else None)
        return out if where is None else out.filter(where).select(columns or out.column_names)
    fs, _ = storage.filesystem(LakeLayout.of(lake_uri).table(name))
    paths = [storage.filesystem(f)[1] for f in files_within(table, within)]
    schema = arrow_schema(table)
    dataset = ds.dataset(paths, schema=schema, format="parquet", filesystem=fs)
    if where is None:
        return dataset.to_table(columns=columns)
    # Filtered after the read, not in the scan: files delta-rs wrote read as string_view there, which pyarrow's
    # comparison kernels do not take. Only the columns asked for and those the filter names are read.
    read = None if columns is None else [c for c in schema.names if c in columns or c in _named_in(where)]
    out = dataset.to_table(columns=read).filter(where)
    return out.select(columns) if columns else out


def _named_in(expression: Any) -> set[str]:  # noqa: ANN401 - a pyarrow Expression
    """Every word of the expression's text outside its quoted literals: a superset of the columns it names
    (pyarrow does not list an expression's fields)."""
    import re

    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", str(expression))
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def files_within(table: Any, within: dict[str, Span] | None) -> list[str]:  # noqa: ANN401 - a DeltaTable
    """URIs of the table's files that may hold a row inside every span of ``within`` (all files when None): a
    file is skipped only when its min/max statistics in the log put a column wholly outside its span. A file
    without statistics for a column is kept."""
    from urllib.parse import unquote

    import pyarrow as pa
    import pyarrow.compute as pc

    uris = table.file_uris()
    if not within:
        return uris
    actions = pa.table(table.get_add_actions(flatten=True))
    keep = pa.array([True] * actions.num_rows, pa.bool_())  # (typed: a table of no files gives no rows)
    for column, (low, high) in within.items():
        if f"min.{column}" not in actions.column_names or pa.types.is_null(actions[f"min.{column}"].type):
            continue  # no file has statistics for it
        lowest, highest = actions[f"min.{column}"], actions[f"max.{column}"]
        outside = pa.array([False] * actions.num_rows, pa.bool_())
        if high is not None:
            outside = pc.or_(outside, pc.fill_null(pc.greater(lowest, high), False))
        if low is not None:
            outside = pc.or_(outside, pc.fill_null(pc.less(highest, low), False))
        keep = pc.and_(keep, pc.invert(outside))
    kept = {unquote(p) for p in actions.filter(keep)["path"].to_pylist()}
    root = table.table_uri.rstrip("/")
    return [u for u in uris if _relative(u, root) in kept]


def _relative(uri: str, root: str) -> str:
    """A file URI of delta-rs's ``file_uris`` relative to its table's ``table_uri`` (which may say file://)."""
    bare_root = root.removeprefix("file://")
    return uri.removeprefix(bare_root if uri.startswith(bare_root) else root).lstrip("/")


def table_version(lake_uri: str, name: str) -> int | None:
    """The table's latest committed version, read from its log by delta-rs (no Spark job: through Spark this is
    a history query, several jobs); None when the lake has no such table yet."""
    table = open_table(lake_uri, name)
    return None if table is None else int(table.version())


def read_rows(lake_uri: str, name: str, columns: list[str] | None = None, where: Any | None = None,  # noqa: ANN401
              within: dict[str, Span] | None = None) -> list[dict[str, Any]]:
    """The table's rows (``read_table``'s) as dicts, map columns as dicts; [] when the lake has no such table
    yet."""
    table = read_table(lake_uri, name, columns, where, within)
    return table.to_pylist(maps_as_pydicts="strict") if table is not None else []


def open_table(lake_uri: str, name: str) -> Any | None:  # noqa: ANN401 - a deltalake.DeltaTable
    """The table's latest snapshot (delta-rs); None when the lake has no such table yet."""
    from deltalake import DeltaTable

    uri = LakeLayout.of(lake_uri).table(name)
    if not storage.exists(storage.join(uri, "_delta_log")):
        return None
    return DeltaTable(uri, storage_options=object_store.delta_options(uri))


def columns(lake_uri: str, name: str) -> list[str] | None:
    """The table's column names from its log (no data read); None when the lake has no such table yet."""
    table = open_table(lake_uri, name)
    return None if table is None else [f.name for f in table.schema().fields]


def create(lake_uri: str, name: str, schema: Any) -> None:  # noqa: ANN401 - a pyarrow Schema
    """Create the empty table ``name`` with ``schema`` unless it exists (a rerun leaves it as it is)."""
    import pyarrow as pa
    from deltalake import write_deltalake

    uri = LakeLayout.of(lake_uri).table(name)
    write_deltalake(uri, pa.Table.from_pylist([], schema=schema), mode="ignore",
                    storage_options=object_store.delta_options(uri))


def merge(lake_uri: str, name: str, source: Any, keys: tuple[str, ...],  # noqa: ANN401 - a pyarrow Table
          update: bool = True) -> dict[str, Any]:
    """Upsert ``source`` into the existing table ``name`` on ``keys`` in this process (delta-rs), one commit;
    with ``update=False`` rows whose keys are already there stay as they are. Returns delta-rs's metrics.

    Meant for increments small enough to hold in memory: it costs milliseconds where Spark's MERGE costs about
    fifteen Spark jobs whatever the size. The source is cast to the table's schema, so a column the table has
    but the source lacks is a bug, not a silent null."""
    table = open_table(lake_uri, name)
    if table is None:
        raise RuntimeError(f"bug: merge into table {name!r} of {lake_uri} before it was created")
    source = conform(source, table)
    condition = key_condition(keys)
    merger = table.merge(source, condition, source_alias="s", target_alias="t")
    if update:
        merger = merger.when_matched_update_all()
    return merger.when_not_matched_insert_all().execute()


def append(lake_uri: str, name: str, rows: Any) -> None:  # noqa: ANN401 - a pyarrow Table
    """Add ``rows`` to the existing table ``name`` in one commit, reading none of its files: for rows whose keys
    the caller knows are not in the table (``Tables.merge_arrow``'s ``present``)."""
    append_parts(lake_uri, name, [rows])


def append_parts(lake_uri: str, name: str, parts: Iterable[Any]) -> int:  # noqa: ANN401 - pyarrow Tables
    """``append`` of rows that come in parts (pyarrow Tables, made one at a time: only one is held), in one
    commit; none when every part is empty (a rerun that finds nothing new commits nothing). Returns the rows
    written."""
    import itertools

    import pyarrow as pa
    from deltalake import write_deltalake

    table = open_table(lake_uri, name)
    if table is None:
        raise RuntimeError(f"bug: append to table {name!r} of {lake_uri} before it was created")
    rows = (conform(part, table) for part in parts if part.num_rows)
    first = next(rows, None)
    if first is None:
        return 0
    written = 0

    def batches() -> Iterator[Any]:
        nonlocal written
        for part in itertools.chain([first], rows):
            written += part.num_rows
            yield from part.to_batches()

    uri = LakeLayout.of(lake_uri).table(name)
    write_deltalake(uri, pa.RecordBatchReader.from_batches(first.schema, batches()), mode="append",
                    storage_options=object_store.delta_options(uri))
    return written


def delete_matching(lake_uri: str, name: str, keys: Any) -> dict[str, Any] | None:  # noqa: ANN401 - pa.Table
    """Delete the rows of table ``name`` whose key columns (``keys``'s columns) match a row of ``keys``."""
    table = open_table(lake_uri, name)
    if table is None or keys.num_rows == 0:
        return None
    condition = key_condition(keys.column_names)
    return table.merge(keys, condition, source_alias="s", target_alias="t").when_matched_delete().execute()


def conform(source: Any, table: Any) -> Any:  # noqa: ANN401 - pyarrow Table, deltalake DeltaTable
    """``source`` with the table's columns in the table's order and types (Spark's Parquet gives INT96
    nanosecond timestamps without a zone, 3-level lists named ``element``; the table says what they are)."""

    schema = arrow_schema(table)
    missing = [f.name for f in schema if f.name not in source.column_names]
    if missing:
        raise RuntimeError(f"bug: rows for table {table.table_uri} lack columns {missing}")
    return source.select(schema.names).cast(schema)


def arrow_schema(table: Any) -> Any:  # noqa: ANN401 - deltalake DeltaTable -> pyarrow Schema
    """The table's schema in Arrow with plain strings and binaries: delta-rs may hand out view types
    (``string_view``), which pyarrow's compute functions (filters, joins) do not all take."""
    import pyarrow as pa

    def plain(t: Any) -> Any:  # noqa: ANN401
        if t == pa.string_view():
            return pa.string()
        if t == pa.binary_view():
            return pa.binary()
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return pa.list_(t.value_field.with_type(plain(t.value_type)))
        if pa.types.is_map(t):
            return pa.map_(t.key_field.with_type(plain(t.key_type)), t.item_field.with_type(plain(t.item_type)))
        if pa.types.is_struct(t):
            return pa.struct([f.with_type(plain(f.type)) for f in t])
        return t

    return pa.schema([f.with_type(plain(f.type)) for f in pa.schema(table.schema().to_arrow())])


def add_missing_columns(lake_uri: str, name: str, schema: Any) -> list[str]:  # noqa: ANN401 - a pyarrow Schema
    """Add the columns of ``schema`` that table ``name`` lacks (a lake written by an earlier release; rows written
    before read null). Returns their names."""
    from deltalake import Field

    table = open_table(lake_uri, name)
    if table is None:
        return []
    have = {f.name for f in table.schema().fields}
    missing = [f for f in schema if f.name not in have]
    if missing:
        table.alter.add_columns([Field.from_arrow(f) for f in missing])
    return [f.name for f in missing]
