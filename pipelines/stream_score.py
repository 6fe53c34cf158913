"""Streaming scoring on Spark Structured Streaming: a landing prefix watched for new videos, each micro-batch
scored as batch scoring scores a run (``score.score_files``) with the model the alias points at when the batch
starts, predictions written exactly once.

Exactly once: Spark's file source records in the stream's checkpoint (in the lake) which files each batch took,
and a batch that did not finish is run again with the same files after a restart. Before it scores, a batch
writes its ``stream_batches`` row (the model, the alias entry, the monitoring window); a batch run again takes
its model from that row, not from the alias, so a promotion between a kill and the restart cannot score one
batch with two models, and every write MERGEs on content-derived keys (predictions on clip_id + model_id), so
what the killed attempt wrote is not written twice. The row's ``committed_at`` is set last.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.models import alias_history
from pipelines.monitor import MonitorJobConfig, monitor_run
from pipelines.score import ScoreConfig, score_files
from pipelines.tables import Tables, spark_uri
from sora_model.deploy.monitoring import MonitorConfig
from sora_model.deploy.resolve import ResolvedModel, resolve_model
from sora_model.deploy.streaming import (
    Window,
    batch_files,
    check_stream_name,
    ignored,
    landed_uri,
    stream_name,
)
from sora_model.lake import delta
from sora_model.lake.card import read_card
from sora_model.lake.listing import describe_files
from sora_model.lake.lock import LockConfig, lake_lock
from sora_model.video import decode as decode_lib

logger = logging.getLogger(__name__)

_FILE_SOURCE_SCHEMA = "path string, modificationTime timestamp, length long, content binary"
"""Spark's binaryFile source; a micro-batch's files are read from the source's log, so no file is read here."""


@dataclass(frozen=True, kw_only=True)
class StreamScoreConfig(ScoreConfig):
    input_uri: str = ""
    """Landing folder or object-store prefix watched for new videos (and its sub-folders). Land a file whole:
    write it elsewhere (or under a name starting with '.' or '_', which the stream skips) and rename it in; an
    object store's uploads appear whole anyway."""
    name: str = ""
    """The stream's name: its checkpoint (<lake>/streams/<name>/checkpoint) and its stream_batches rows. Empty:
    made from the landing URI (its last folder name and a hash of the whole URI), so two landing prefixes never
    share a checkpoint. Restarting with the same name resumes where the stream stopped."""
    max_files_per_trigger: int = 8
    """At most this many new files per micro-batch (rate control: a backlog is worked off this many at a time)."""
    trigger_interval_s: float = 2.0
    """How often the stream looks for new files; a micro-batch starts at most this often."""
    available_now: bool = False
    """Score every file landed so far (in micro-batches of max_files_per_trigger), then stop: a scheduled run
    instead of a service."""
    idle_stop_s: float = 0.0
    """Stop once the stream has been idle this long: no micro-batch running and no new file found (0: run until
    stopped, by SIGTERM or Ctrl-C)."""
    monitor_window_s: int = 3600
    """The predictions of the micro-batches that start in one window of this length (aligned to UTC) share a
    run_id; once the window has closed the stream writes its monitoring row, as the monitoring job writes one
    per batch scoring run (the monitoring job leaves windows still open alone)."""
    monitor_windows: bool = True
    """Write each closed window's monitoring row (the drift and alert checks of jobs/monitor.py)."""
    monitoring: MonitorConfig = field(default_factory=MonitorConfig)
    """When a window's numbers become an alert (the same thresholds as jobs/monitor.py)."""
    lock: LockConfig = field(default_factory=lambda: LockConfig(wait_s=600.0))
    """One writer per lake: each micro-batch holds the lake's lock while it writes, waiting up to wait_s for
    another run (a curate run) that holds it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_files_per_trigger < 1:
            raise ValueError(f"max_files_per_trigger must be >= 1, got {self.max_files_per_trigger}")
        if self.trigger_interval_s <= 0:
            raise ValueError(f"trigger_interval_s must be > 0, got {self.trigger_interval_s}")
        if self.idle_stop_s < 0:
            raise ValueError(f"idle_stop_s must be >= 0, got {self.idle_stop_s}")
        if self.monitor_window_s < 1:
            raise ValueError(f"monitor_window_s must be >= 1, got {self.monitor_window_s}")
        if self.name:
            check_stream_name(self.name)

    @property
    def stream(self) -> str:
        return self.name or stream_name(self.input_uri)


@dataclass
class StreamSummary:
    stream: str
    batches: int = 0
    replayed: int = 0
    """Batches run again after a restart (their model taken from their stream_batches row)."""
    files: int = 0
    ignored: int = 0
    scored_videos: int = 0
    rejected: int = 0
    predictions: int = 0
    models: dict[str, int] = field(default_factory=dict)
    """Batches per 'model_id (alias #seq)'."""
    latency_s: list[float] = field(default_factory=list)
    """Per file: from landing (its modification time) to its batch's commit."""
    windows_monitored: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    def latency_p(self, q: float) -> float | None:
        import numpy as np

        return float(np.percentile(self.latency_s, q)) if self.latency_s else None

    def render(self) -> str:
        p50, p95 = self.latency_p(50), self.latency_p(95)
        lines = [f"scoring stream {self.stream}: {self.batches} micro-batches"
                 + (f" ({self.replayed} run again after a restart)" if self.replayed else ""),
                 f"  files landed        {self.files}" + (f"  (+{self.ignored} on the ignore list)" if self.ignored
                                                           else ""),
                 f"    scored            {self.scored_videos}",
                 f"    rejected          {self.rejected}",
                 f"  predictions         {self.predictions}  (clips; MERGEd on clip_id + model_id)"]
        lines += [f"  model               {m}: {n} batches" for m, n in sorted(self.models.items())]
        if p50 is not None:
            lines.append(f"  landed -> committed p50 {p50:.1f} s  p95 {p95:.1f} s")
        lines += [f"  monitored window    {w}" for w in self.windows_monitored]
        lines += [f"  ALERT               {a}" for a in self.alerts]
        return "\n".join(lines)

    @property
    def exit_status(self) -> int:
        from pipelines.monitor import EXIT_ALERT

        return EXIT_ALERT if self.alerts else 0


def _utc(t: datetime) -> datetime:
    """Spark hands timestamps back as naive local times; Python reads a naive datetime as local time too."""
    return t.astimezone(timezone.utc)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


class ScoringStream:
    """One stream: the micro-batch body (``score_batch``, what foreachBatch calls) and the query around it."""

    def __init__(self, spark: SparkSession, cfg: StreamScoreConfig) -> None:
        self.spark = spark
        self.cfg = cfg
        self.tables = Tables(spark, cfg.lake_uri)
        self.summary = StreamSummary(stream=cfg.stream)
        self.error: BaseException | None = None
        """What stopped the query, raised again on the caller's thread (foreachBatch runs on Spark's)."""
        self.stopping = threading.Event()
        self.in_batch = threading.Lock()
        self._checked_in: Window | None = None
        """The window in which closed windows were last looked for."""

    def start(self) -> Any:  # noqa: ANN401 - a StreamingQuery
        cfg = self.cfg
        files = (self.spark.readStream.format("binaryFile").schema(_FILE_SOURCE_SCHEMA)
                 .option("maxFilesPerTrigger", cfg.max_files_per_trigger)
                 .option("recursiveFileLookup", "true")
                 .load(spark_uri(cfg.input_uri))
                 .select("path"))
        writer = (files.writeStream.queryName(f"score-{cfg.stream}").foreachBatch(self._guarded)
                  .option("checkpointLocation", spark_uri(self.tables.layout.stream_checkpoint(cfg.stream))))
        writer = (writer.trigger(availableNow=True) if cfg.available_now
                  else writer.trigger(processingTime=f"{cfg.trigger_interval_s:g} seconds"))
        return writer.start()

    def _guarded(self, batch: DataFrame, batch_id: int) -> None:
        with self.in_batch:  # a stop waits for the batch in flight to finish
            if self.stopping.is_set():  # not committed: it runs on the next start
                raise RuntimeError(f"stream {self.cfg.stream} is stopping; batch {batch_id} runs on the next start")
            try:
                # The batch's files from the file source's log, not from its rows: Spark's scan leaves empty
                # files out, and an empty file must become a reject like any other bad file.
                checkpoint = self.tables.layout.stream_checkpoint(self.cfg.stream)
                self.score_batch([uri for uri, _ in batch_files(checkpoint, batch_id)], batch_id)
            except BaseException as e:
                self.error = e
                raise

    def score_batch(self, landed: list[str], batch_id: int) -> None:
        """Score one micro-batch's files (URIs as Spark gives them) exactly once."""
        cfg, summary = self.cfg, self.summary
        uris = sorted({landed_uri(u, cfg.input_uri) for u in landed})
        kept = describe_files([u for u in uris if not ignored(u, cfg.input_uri, cfg.listing)])
        summary.ignored += len(uris) - len(kept)
        with lake_lock(cfg.lake_uri, "stream-score", f"{cfg.stream}-{batch_id}", cfg.lock):
            row = self._batch_row(batch_id)
            if row is not None and row["committed_at"] is not None:
                logger.info("stream %s batch %d was committed before a restart: nothing to do", cfg.stream, batch_id)
                return
            started = datetime.now(timezone.utc)
            if row is not None:
                resolved, window = self._recorded(row), Window(_utc(row["window_start"]), _utc(row["window_end"]))
                summary.replayed += 1
            else:
                resolved, window = self._resolve(), Window.of(started, cfg.monitor_window_s)
            record = {"stream": cfg.stream, "batch_id": batch_id, "run_id": window.run_id(cfg.stream),
                      "window_start": window.start, "window_end": window.end,
                      "model_id": resolved.card.model_id, "model_uri": resolved.uri,
                      "alias": resolved.alias.alias if resolved.alias else None,
                      "alias_seq": resolved.alias.seq if resolved.alias else None, "files": len(kept),
                      "started_at": row["started_at"] if row is not None else started, "input_uri": cfg.input_uri,
                      "uris": [uri for uri, _, _ in kept]}
            if row is None:
                self.tables.merge_rows("stream_batches", [record])  # the model is fixed before anything is scored
            scored = score_files(self.spark, self.tables, cfg, resolved, kept, record["run_id"],
                                 f"stream-{cfg.stream}-{batch_id}")
            committed = datetime.now(timezone.utc)
            self.tables.merge_rows("stream_batches", [{
                **record, "scored_videos": scored.scored_videos, "rejected": scored.rejected,
                "predictions": scored.predictions, "committed_at": committed}])
        summary.batches += 1
        summary.files += len(kept)
        summary.scored_videos += scored.scored_videos
        summary.rejected += scored.rejected
        summary.predictions += scored.predictions
        via = f" ({scored.alias})" if scored.alias else ""
        summary.models[scored.model_id + via] = summary.models.get(scored.model_id + via, 0) + 1
        summary.latency_s += [(_ms(committed) - ms) / 1000 for _, _, ms in kept]
        logger.info("stream %s batch %d: %d files, %d predictions with %s%s", cfg.stream, batch_id, len(kept),
                    scored.predictions, scored.model_id, via)
        if cfg.monitor_windows:
            self.monitor_closed_windows()

    def _batch_row(self, batch_id: int) -> dict[str, Any] | None:
        """The batch's ledger row, read with delta-rs: one filtered read per micro-batch, no Spark job."""
        import pyarrow.compute as pc

        rows = delta.read_rows(self.cfg.lake_uri, "stream_batches",
                               where=(pc.field("stream") == self.cfg.stream) & (pc.field("batch_id") == batch_id))
        return rows[0] if rows else None

    def _resolve(self) -> ResolvedModel:
        """The model the config names, as it is now: an alias is read again for every batch, so a promotion
        between two batches is picked up without a restart."""
        return resolve_model(self.cfg.lake_uri, self.cfg.model)

    def _recorded(self, row: dict[str, Any]) -> ResolvedModel:
        """The model a batch started with, from its stream_batches row."""
        entry = None
        if row["alias"] is not None:
            entry = next(e for e in alias_history(self.tables, row["alias"]).entries if e.seq == row["alias_seq"])
        return ResolvedModel(row["model_uri"], read_card(row["model_uri"]), entry)

    def monitor_closed_windows(self) -> None:
        """The monitoring row of each of this stream's windows that has closed and has none yet. Windows close
        only at their aligned ends, so the ledger is read once per window, not once per micro-batch."""
        now = datetime.now(timezone.utc)
        current = Window.of(now, self.cfg.monitor_window_s)
        if current == self._checked_in:
            return
        self._checked_in = current
        windows = (self.tables.read("stream_batches").where(F.col("stream") == self.cfg.stream)
                   .where(F.col("committed_at").isNotNull()).groupBy("run_id")
                   .agg(F.max("window_end").alias("end"), F.sum("predictions").alias("predictions")).collect())
        # A window whose files were all rejected has nothing to monitor.
        closed = {r["run_id"] for r in windows if _utc(r["end"]) <= now and r["predictions"]}
        if not closed:
            return
        if self.tables.exists("monitoring"):
            done = {r["score_run_id"] for r in self.tables.read("monitoring").where(
                F.col("score_run_id").isin(sorted(closed))).select("score_run_id").collect()}
            closed -= done
        job = MonitorJobConfig(lake_uri=self.cfg.lake_uri, thresholds=self.cfg.monitoring)
        for run_id in sorted(closed):
            row = monitor_run(self.tables, run_id, job)
            self.tables.merge_rows("monitoring", [row])
            self.summary.windows_monitored.append(run_id)
            for alert in row["alerts"]:
                logger.warning("stream %s window %s: %s", self.cfg.stream, run_id, alert)
                self.summary.alerts.append(f"{run_id}: {alert}")


def run_stream(spark: SparkSession, cfg: StreamScoreConfig, stop: threading.Event | None = None) -> StreamSummary:
    """Run the stream until it is told to stop (``stop`` set, e.g. by SIGTERM), has been idle for
    ``cfg.idle_stop_s``, or, with ``cfg.available_now``, has scored what had landed."""
    if not cfg.input_uri:
        raise ValueError("input_uri (the landing folder or prefix) is required")
    decode_lib.require(cfg.decode.backend)
    stop = stop or threading.Event()
    stream = ScoringStream(spark, cfg)
    resolve_model(cfg.lake_uri, cfg.model)  # a model that cannot serve stops the job before it starts
    query = stream.start()
    logger.info("stream %s watching %s (checkpoint %s)", cfg.stream, cfg.input_uri,
                stream.tables.layout.stream_checkpoint(cfg.stream))
    idle_since: float | None = None
    try:
        while query.isActive and not stop.wait(0.5):
            status = query.status  # idle: no batch running and no new file seen (the start and a backlog are not)
            busy = status["isDataAvailable"] or status["isTriggerActive"]
            idle_since = None if busy else (idle_since or time.monotonic())
            if cfg.idle_stop_s and idle_since is not None and time.monotonic() - idle_since > cfg.idle_stop_s:
                break
    finally:
        with stream.in_batch:  # after the batch in flight, before the next
            stream.stopping.set()
            if query.isActive:
                query.stop()
    if stream.error is not None:
        raise stream.error
    if query.exception() is not None:
        raise RuntimeError(f"stream {cfg.stream} stopped: {query.exception()}")
    if cfg.monitor_windows and stream.tables.exists("stream_batches"):
        with lake_lock(cfg.lake_uri, "stream-score", f"{cfg.stream}-stop", cfg.lock):
            stream._checked_in = None  # a window may have closed since the last batch's look
            stream.monitor_closed_windows()
    return stream.summary
