"""The lake's Delta tables (``LakeLayout.table``; schemas and keys in ``sora_model.lake.tables``), read by
Spark, written by Spark or, for small increments, by delta-rs in the driver.

Every write is a MERGE on content-derived keys, so a rerun or a retried stage adds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StructType

from sora_model.lake import delta, migrate, storage
from sora_model.lake.layout import LakeLayout
from sora_model.lake.tables import KEYS, TABLES, arrow_schema, key_condition

__all__ = ["DRIVER_MERGE_MAX_ROWS", "KEYS", "TABLES", "Staged", "Tables", "spark_uri", "table_schema"]

logger = logging.getLogger(__name__)

def spark_uri(uri: str) -> str:
    """URI for Spark/Hadoop: local paths get ``file://`` so a cluster's default FS (HDFS) is not assumed, and
    S3 objects Hadoop's ``s3a://`` (Hadoop has no ``s3://`` of its own)."""
    if storage.is_local(uri):
        return "file://" + storage.normalize(uri)
    scheme, sep, rest = uri.partition("://")
    return "s3a://" + rest if scheme in ("s3", "s3n") else uri


def _key_text(rows: Any, keys: tuple[str, ...]) -> Any:  # noqa: ANN401 - pyarrow Table -> Array
    """One string per row joining its key columns (pyarrow's joins do not take the tables' list columns)."""
    if len(keys) == 1:
        return rows[keys[0]].cast(pa.string())
    return pc.binary_join_element_wise(*[rows[k].cast(pa.string()) for k in keys], "\x1f")


def _present_keys(rows: Any, present: Any, keys: tuple[str, ...]) -> Any:  # noqa: ANN401 - pyarrow
    """The ``rows``' keys found among ``present``'s, as ``_key_text`` strings. The few rows' values make the
    hashed sets; the table's million keys are only looked up in them, column by column, before any string is
    built for the ones left."""
    for k in keys:
        present = present.filter(pc.is_in(present[k], value_set=pc.unique(rows[k].cast(present[k].type))))
    return _key_text(present, keys)


def table_schema(name: str) -> StructType:
    return StructType.fromDDL(" ".join(TABLES[name].split()))


@dataclass(frozen=True)
class Staged:
    """Rows a Spark job wrote once as Parquet under ``uri`` (the run's staging folder, on the lake's storage, so
    the driver reads them on a cluster too): ``rows`` of them, counted from the files' footers."""

    uri: str
    rows: int

    @classmethod
    def of(cls, uri: str) -> Staged:
        import pyarrow.dataset as ds

        fs, path = storage.filesystem(uri)
        return cls(uri, ds.dataset(path, format="parquet", filesystem=fs).count_rows())

    @classmethod
    def write(cls, uri: str, rows: Any) -> Staged:  # noqa: ANN401 - a pyarrow Table
        """Stage rows this process holds as one Parquet file under ``uri`` (Spark reads them like its own)."""
        import pyarrow.parquet as pq

        fs, path = storage.filesystem(storage.join(uri, "part-00000.parquet"))
        storage.make_parent(fs, path)
        pq.write_table(rows, path, filesystem=fs)
        return cls(uri, rows.num_rows)

    def arrow(self, columns: list[str] | None = None, where: Any = None) -> Any:  # noqa: ANN401 - pyarrow
        """The rows in this process (only ``columns`` when given, only those matching the pyarrow expression
        ``where`` when given) as a pyarrow Table."""
        import pyarrow.dataset as ds

        fs, path = storage.filesystem(self.uri)
        return ds.dataset(path, format="parquet", filesystem=fs).to_table(columns=columns, filter=where)

    def parts(self, where: Any = None, rows_per_part: int = 16_384) -> Iterator[Any]:  # noqa: ANN401 - pyarrow
        """The rows (only those matching the pyarrow expression ``where`` when given) as pyarrow Tables of
        about ``rows_per_part`` rows (fewer only for the last), read one at a time. The batches of the staged
        files are gathered up to that size: each part costs its reader a look-up among the lake's keys."""
        import pyarrow.dataset as ds

        fs, path = storage.filesystem(self.uri)
        held: list[Any] = []
        rows = 0
        for batch in ds.dataset(path, format="parquet", filesystem=fs).to_batches(
                filter=where, batch_size=rows_per_part):
            held.append(batch)
            rows += batch.num_rows
            if rows >= rows_per_part:
                yield pa.Table.from_batches(held)
                held, rows = [], 0
        if held:
            yield pa.Table.from_batches(held)

    def frame(self, spark: SparkSession) -> DataFrame:
        return spark.read.parquet(spark_uri(self.uri))


DRIVER_MERGE_MAX_ROWS = 200_000
"""Default for ``Tables.driver_merge_max_rows``."""


class Tables:
    """The Delta tables of one lake.

    A MERGE of an increment of up to ``driver_merge_max_rows`` rows runs in this process with delta-rs (about
    0.05 s, or an append when the caller knows which keys are present: a MERGE scans the whole table, 4 s for
    10^7 clips); a larger one runs as Spark's MERGE on the executors (about 15 Spark jobs whatever its size, 3 s on
    a laptop). Both merge on the same keys with the same semantics, and the lake lock makes either the lake's
    only writer. Made without a Spark session (``spark=None``) it writes rows with delta-rs only: registering a
    checkpoint from torchrun or python starts no JVM.
    """

    def __init__(self, spark: SparkSession | None, lake_uri: str,
                 driver_merge_max_rows: int = DRIVER_MERGE_MAX_ROWS) -> None:
        if driver_merge_max_rows < 0:
            raise ValueError(f"driver_merge_max_rows must be >= 0, got {driver_merge_max_rows}")
        self.spark = spark
        self.layout = LakeLayout.of(lake_uri)
        self.driver_merge_max_rows = driver_merge_max_rows
        self._current: set[str] = set()  # tables known to have every column of their schema

    def table_uri(self, name: str) -> str:
        return spark_uri(self.layout.table(name))

    def exists(self, name: str) -> bool:
        return delta.columns(self.layout.root, name) is not None

    def _session(self, what: str) -> SparkSession:
        if self.spark is None:
            raise RuntimeError(f"bug: {what} needs Spark, and these Tables were made without a session")
        return self.spark

    def read(self, name: str) -> DataFrame:
        spark = self._session(f"reading table {name!r}")
        if not self.exists(name):
            return spark.createDataFrame([], table_schema(name))
        self._add_new_columns(name)
        return spark.read.format("delta").load(self.table_uri(name))

    def _add_new_columns(self, name: str) -> None:
        """A lake written by an earlier release lacks the columns added since: add them (old rows read null)."""
        if name in self._current:
            return
        if name in ("videos", "rejects"):
            migrate.keep_datasets_apart(self.layout.root, name)
        added = delta.add_missing_columns(self.layout.root, name, arrow_schema(name))
        if added:
            logger.warning("table %s: added columns %s (rows written before read null)", name, ", ".join(added))
        self._current.add(name)

    def upgrade(self, *names: str) -> None:
        """Bring tables ``names`` of a lake an earlier release wrote up to this release's schema, before rows are
        read from them outside Spark (delta-rs reads by the driver)."""
        for name in names:
            if self.exists(name):
                self._add_new_columns(name)

    def version(self, name: str) -> int | None:
        """The table's latest committed version (None before its first write)."""
        return delta.table_version(self.layout.root, name)

    def _ensure(self, name: str) -> None:
        if name in self._current:  # created or checked by this object already
            return
        if not self.exists(name):
            delta.create(self.layout.root, name, arrow_schema(name))
        self._add_new_columns(name)

    def merge(self, name: str, df: DataFrame, update: bool = True) -> None:
        """Upsert ``df`` into table ``name`` on its keys through Spark; with ``update=False`` existing rows are
        kept as they are."""
        from delta.tables import DeltaTable

        self._ensure(name)
        source = df.select(*[c.name for c in table_schema(name)])
        condition = key_condition(KEYS[name])
        merge = DeltaTable.forPath(self._session(f"a Spark MERGE into {name!r}"), self.table_uri(name)).alias("t") \
            .merge(source.alias("s"), condition)
        if update:
            merge = merge.whenMatchedUpdateAll()
        merge.whenNotMatchedInsertAll().execute()

    def merge_arrow(self, name: str, rows: Any, update: bool = True,  # noqa: ANN401 - pyarrow Tables
                    present: Any = None) -> None:
        """``merge`` of rows this process holds, with delta-rs (no Spark job).

        ``present``, when given, holds every key of the table that a row of ``rows`` could match (read under
        the lake lock, so no other writer adds one): rows whose key is not there are appended, without the MERGE's
        scan of the whole table; only the others are merged."""
        if present is None:
            self._ensure(name)
            metrics = delta.merge(self.layout.root, name, rows, KEYS[name], update)
            logger.debug("table %s: delta-rs merge %s", name, metrics)
            return
        self._append_new_merge_rest(name, [rows], update, present)

    def _append_new_merge_rest(self, name: str, parts: Iterable[Any], update: bool,  # noqa: ANN401
                               present: Any) -> None:  # noqa: ANN401 - pyarrow Tables
        """Rows that come in ``parts`` (pyarrow Tables, one held at a time): those whose keys are not among
        ``present``'s appended in one commit, without a MERGE's scan of the table; the few others (a retried
        run's) merged after."""
        self._ensure(name)
        matched: list[Any] = []

        def fresh() -> Iterator[Any]:
            for part in parts:
                known = pc.is_in(_key_text(part, KEYS[name]), value_set=_present_keys(part, present, KEYS[name]))
                if pc.any(known).as_py():
                    matched.append(part.filter(known))
                yield part.filter(pc.invert(known))

        appended = delta.append_parts(self.layout.root, name, fresh())
        logger.debug("table %s: %d rows appended, %d to merge", name, appended, sum(t.num_rows for t in matched))
        if matched:
            metrics = delta.merge(self.layout.root, name, pa.concat_tables(matched), KEYS[name], update)
            logger.debug("table %s: delta-rs merge %s", name, metrics)

    def merge_rows(self, name: str, rows: list[dict[str, Any]], update: bool = True,
                   present: Any = None) -> None:  # noqa: ANN401 - a pyarrow Table
        """``merge`` of a few rows given as dicts (a registration, a decision), with delta-rs (``present``: as
        ``merge_arrow``'s)."""
        import pyarrow as pa

        self.merge_arrow(name, pa.Table.from_pylist(rows, schema=arrow_schema(name)), update, present)

    def merge_staged(self, name: str, staged: Staged, update: bool = True,  # noqa: PLR0913
                     shape: Callable[[Any], Any] | None = None, present: Any = None,  # noqa: ANN401
                     where: Any = None) -> None:  # noqa: ANN401 - a pyarrow expression
        """``merge`` of staged rows, each Arrow table of them passed through ``shape`` first when given (it
        makes them ``name``'s rows: ``pipelines.rows.table_rows``): in this process when there are at most
        ``driver_merge_max_rows`` (``present``: as ``merge_arrow``'s; with it the rows are streamed, a part at
        a time), else through Spark, the shaping then done by the executors. ``where`` (a pyarrow expression)
        keeps only the staged rows it matches, before ``shape``."""
        if staged.rows <= self.driver_merge_max_rows:
            if present is None:
                rows = staged.arrow(where=where)
                self.merge_arrow(name, shape(rows) if shape else rows, update)
                return
            # Streamed: one part of the staged rows is held at a time.
            self._append_new_merge_rest(name, (shape(part) if shape else part for part in staged.parts(where)),
                                        update, present)
            return
        frame = staged.frame(self._session(f"a Spark MERGE into {name!r}"))
        if shape is not None or where is not None:
            def run(batches: Iterator[Any]) -> Iterator[Any]:
                import pyarrow as pa

                for batch in batches:
                    rows = pa.Table.from_batches([batch])
                    rows = rows.filter(where) if where is not None else rows
                    yield from (shape(rows) if shape else rows).to_batches()

            frame = frame.mapInArrow(run, from_arrow_schema(arrow_schema(name)))
        self.merge(name, frame, update)

    def remove(self, name: str, keys: Any) -> None:  # noqa: ANN401 - a pyarrow Table
        """Delete the rows of table ``name`` whose key columns (``keys``'s columns) match a row of ``keys``."""
        delta.delete_matching(self.layout.root, name, keys)
