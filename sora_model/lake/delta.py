"""Read the lake's Delta tables without a JVM (delta-rs), for what runs outside Spark: training, the dataset
catalog, the report. Writes stay with Spark (``pipelines/tables.py``)."""

from __future__ import annotations

from typing import Any

from sora_model.lake import object_store, storage
from sora_model.lake.layout import LakeLayout


def read_table(lake_uri: str, name: str, columns: list[str] | None = None) -> Any | None:  # noqa: ANN401
    """The table ``name`` of the lake as a pyarrow Table (only ``columns`` when given); None when the lake has
    no such table yet.

    delta-rs gives the snapshot (its files and schema) and pyarrow reads the Parquet files: a process that read
    through delta-rs's own pyarrow dataset aborts at exit most of the time ("terminate called without an active
    exception", delta-io/delta-rs#2184; 10 of 12 runs here). Tables whose files need more than plain Parquet
    reading (deletion vectors, column mapping: reader version > 1; partition columns) are left to delta-rs."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    uri = LakeLayout.of(lake_uri).table(name)
    if not storage.exists(storage.join(uri, "_delta_log")):
        return None
    table = DeltaTable(uri, storage_options=object_store.delta_options(uri))
    if table.protocol().min_reader_version > 1 or table.metadata().partition_columns:
        return table.to_pyarrow_table(columns=columns)
    fs, _ = storage.filesystem(uri)
    paths = [storage.filesystem(f)[1] for f in table.file_uris()]
    schema = pa.schema(table.schema().to_arrow())
    return ds.dataset(paths, schema=schema, format="parquet", filesystem=fs).to_table(columns=columns)


def table_version(lake_uri: str, name: str) -> int | None:
    """The table's latest committed version, read from its log by delta-rs (no Spark job: through Spark this is
    a history query, several jobs); None when the lake has no such table yet."""
    from deltalake import DeltaTable

    uri = LakeLayout.of(lake_uri).table(name)
    if not storage.exists(storage.join(uri, "_delta_log")):
        return None
    return int(DeltaTable(uri, storage_options=object_store.delta_options(uri)).version())


def read_rows(lake_uri: str, name: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """The table's rows as dicts; [] when the lake has no such table yet."""
    table = read_table(lake_uri, name, columns)
    return table.to_pylist() if table is not None else []
