"""Served predictions into the lake, so the monitoring job watches the service as it watches batch scoring.

Rows are buffered and written every few seconds with delta-rs (no JVM), each write under the lake's lock
(taken for a moment; when another run holds it the rows wait for the next turn). Predictions MERGE on
clip_id + model_id like batch scoring's, so the same video scored twice by one model is one set of rows. Each
write also adds a ``stream_batches`` row: its ``window_end`` tells the monitoring job which windows are still
open (it writes a window's monitoring row once the window has closed).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any

from sora_model.deploy.streaming import Window
from sora_model.lake import delta
from sora_model.lake.lock import LakeBusy, LockConfig, lake_lock
from sora_model.lake.tables import KEYS, arrow_schema
from sora_model.serve.metrics import Metrics

logger = logging.getLogger(__name__)


class Recorder:
    def __init__(self, lake_uri: str, stream: str, window_s: int, metrics: Metrics) -> None:
        self.lake_uri, self.stream, self.window_s, self.metrics = lake_uri, stream, window_s, metrics
        self._rows: list[dict[str, Any]] = []
        self._guard = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None

    def run_id(self, at: datetime) -> str:
        """The run id of predictions made at ``at``: their monitoring window's."""
        return Window.of(at, self.window_s).run_id(self.stream)

    def add(self, rows: list[dict[str, Any]]) -> None:
        with self._guard:
            self._rows.extend(rows)

    @property
    def pending(self) -> int:
        with self._guard:
            return len(self._rows)

    def flush(self) -> int:
        """Write what is buffered; the rows written (0 when there were none or the write must wait)."""
        import pyarrow as pa

        with self._flushing:
            with self._guard:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            now = datetime.now(timezone.utc)
            batch_id = int(now.timestamp() * 1000)
            try:
                with lake_lock(self.lake_uri, "serve", f"{self.stream}-{batch_id}", LockConfig(wait_s=0)):
                    for name in ("predictions", "stream_batches"):
                        delta.create(self.lake_uri, name, arrow_schema(name))
                    delta.merge(self.lake_uri, "predictions", pa.Table.from_pylist(rows, schema=arrow_schema(
                        "predictions")), KEYS["predictions"], update=False)
                    ledger = []
                    for run_id in sorted({r["run_id"] for r in rows}):
                        mine = [r for r in rows if r["run_id"] == run_id]
                        window = Window.of(mine[0]["scored_at"], self.window_s)
                        ledger.append({
                            "stream": self.stream, "batch_id": batch_id + len(ledger), "run_id": run_id,
                            "window_start": window.start, "window_end": window.end,
                            "model_id": mine[-1]["model_id"], "model_uri": mine[-1]["model_uri"],
                            "alias": mine[-1]["alias"], "alias_seq": mine[-1]["alias_seq"],
                            "files": len({r["video_id"] for r in mine}),
                            "scored_videos": len({r["video_id"] for r in mine}), "rejected": 0,
                            "predictions": len(mine), "started_at": min(r["scored_at"] for r in mine),
                            "committed_at": datetime.now(timezone.utc), "input_uri": "(online service)",
                            "uris": sorted({r["uri"] for r in mine})})
                    delta.merge(self.lake_uri, "stream_batches", pa.Table.from_pylist(
                        ledger, schema=arrow_schema("stream_batches")), KEYS["stream_batches"])
            except (LakeBusy, OSError, RuntimeError, ValueError) as e:
                with self._guard:
                    self._rows = rows + self._rows  # kept for the next turn
                self.metrics.wrote(0, failed=True)
                if str(e) != self._last_error:
                    logger.warning("served predictions wait for the next write (%d rows): %s", len(rows), e)
                self._last_error = str(e)
                return 0
            self._last_error = None
            self.metrics.wrote(len(rows))
            return len(rows)

    def start(self, every_s: float) -> None:
        def run() -> None:
            while not self._stop.wait(every_s):
                self.flush()

        self._thread = threading.Thread(target=run, name="sora-serve-recorder", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and write what is left (once; what cannot be written now is logged as lost)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.flush()
        if self.pending:
            logger.error("%d served predictions could not be written to %s before the service stopped",
                         self.pending, self.lake_uri)
