"""The service's metrics in Prometheus's text format (``GET /metrics``): counters and histograms kept in this
process, no client library needed."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter

SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Upper bounds of the latency histograms' buckets, in seconds."""


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value

    def lines(self, name: str, labels: str) -> list[str]:
        out, cumulative = [], 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts):
            cumulative += n
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{{labels}{"," if labels else ""}le="{le}"}} {cumulative}')
        braces = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{braces} {self.total:.6f}", f"{name}_count{braces} {cumulative}"]
        return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """What ``GET /metrics`` shows; every method is safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses: Counter[tuple[str, int]] = Counter()
        self.rejects: Counter[str] = Counter()
        self.latency = _Histogram(SECONDS_BUCKETS)
        self.scoring = _Histogram(SECONDS_BUCKETS)
        self.clips = 0
        self.in_flight = 0
        self.recorded = 0
        self.record_failures = 0

    def request_started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def request_ended(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.in_flight -= 1
            self.responses[(route, status)] += 1
            if route == "/v1/score":
                self.latency.observe(seconds)

    def scored(self, clips: int, seconds: float) -> None:
        with self._lock:
            self.clips += clips
            self.scoring.observe(seconds)

    def rejected(self, reason: str) -> None:
        with self._lock:
            self.rejects[reason] += 1

    def wrote(self, rows: int, failed: bool = False) -> None:
        with self._lock:
            self.recorded += rows
            self.record_failures += int(failed)

    def render(self, model_id: str | None, alias: str | None, alias_seq: int | None, swaps: int,
               pending: int, rss_bytes: int | None) -> str:
        with self._lock:
            lines = ["# HELP sora_serve_requests_total Responses by route and HTTP status.",
                     "# TYPE sora_serve_requests_total counter"]
            lines += [f'sora_serve_requests_total{{route="{r}",status="{s}"}} {n}'
                      for (r, s), n in sorted(self.responses.items())]
            lines += ["# HELP sora_serve_rejected_total Videos refused, by reason code.",
                      "# TYPE sora_serve_rejected_total counter"]
            lines += [f'sora_serve_rejected_total{{reason="{_escape(k)}"}} {n}' for k, n in sorted(self.rejects.items())]
            lines += ["# HELP sora_serve_request_seconds Time from a scoring request's start to its response.",
                      "# TYPE sora_serve_request_seconds histogram", *self.latency.lines("sora_serve_request_seconds", ""),
                      "# HELP sora_serve_scoring_seconds Time decoding and scoring one video took.",
                      "# TYPE sora_serve_scoring_seconds histogram", *self.scoring.lines("sora_serve_scoring_seconds", ""),
                      "# HELP sora_serve_clips_total Clips scored.", "# TYPE sora_serve_clips_total counter",
                      f"sora_serve_clips_total {self.clips}",
                      "# HELP sora_serve_in_flight Requests being handled now.", "# TYPE sora_serve_in_flight gauge",
                      f"sora_serve_in_flight {self.in_flight}",
                      "# HELP sora_serve_model_swaps_total Times the served model was replaced.",
                      "# TYPE sora_serve_model_swaps_total counter", f"sora_serve_model_swaps_total {swaps}",
                      "# HELP sora_serve_predictions_recorded_total Prediction rows written to the lake.",
                      "# TYPE sora_serve_predictions_recorded_total counter",
                      f"sora_serve_predictions_recorded_total {self.recorded}",
                      "# HELP sora_serve_record_failures_total Writes to the lake that failed (rows kept for the next).",
                      "# TYPE sora_serve_record_failures_total counter",
                      f"sora_serve_record_failures_total {self.record_failures}",
                      "# HELP sora_serve_predictions_pending Prediction rows waiting to be written.",
                      "# TYPE sora_serve_predictions_pending gauge", f"sora_serve_predictions_pending {pending}"]
        if model_id is not None:
            lines += ["# HELP sora_serve_model_info The model served now.", "# TYPE sora_serve_model_info gauge",
                      f'sora_serve_model_info{{model_id="{_escape(model_id)}",alias="{_escape(alias or "")}",'
                      f'alias_seq="{alias_seq if alias_seq is not None else ""}"}} 1']
        if rss_bytes is not None:
            lines += ["# HELP process_resident_memory_bytes Resident memory of the service's process.",
                      "# TYPE process_resident_memory_bytes gauge", f"process_resident_memory_bytes {rss_bytes}"]
        return "\n".join(lines) + "\n"
