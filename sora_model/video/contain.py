"""Run decoder work in a child process, so a segfault, a hang or a runaway allocation in FFmpeg or decord ends
one video (as a reject), never the Spark task, the executor or the job. The probe stage (hashing, probing, the
near-duplicate signature) and the decode stage both run their per-file work here.

One child per worker process (per thread where several threads decode), reused across videos (forked on first use: no imports to redo); it is replaced
after it dies or is killed. The parent watches each video's wall time and the child's resident memory (Linux
``/proc``; elsewhere only the time cap holds) and kills the child when either goes over its cap.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_model.lake.object_store import StoreUnreachable
from sora_model.video import rejects
from sora_model.video.rejects import Rejected

logger = logging.getLogger(__name__)

PROCESS_NAME = "sora-decoder"
"""The decoding process's name, as ps and top show it."""
_POLL_S = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    """Wall time one call may take."""
    max_memory_mb: int
    """Resident memory the child may grow by during one call (above what it held idle before it)."""
    stage: str = "decode"
    """Whose work it is ('probe' or 'decode'): the reject's stage and reason codes, the settings it names."""

    @property
    def failures(self) -> tuple[str, str, str, str, str]:
        """(crash, timeout, out-of-memory reason codes, the time cap's setting, the memory cap's setting)."""
        if self.stage == "probe":
            return (rejects.PROBE_CRASH, rejects.PROBE_TIMEOUT, rejects.PROBE_OOM, "probe.timeout_s",
                    "probe.max_memory_mb")
        return (rejects.DECODER_CRASH, rejects.DECODE_TIMEOUT, rejects.DECODE_OOM, "video_timeout_s",
                "video_max_memory_mb")


@dataclass
class Outcome:
    items: list[Any]
    """What the function yielded, in order; empty after a failure."""
    failure: Rejected | None
    """<stage>_crash / decoder_crash, <stage>_timeout or <stage>_oom; None when the function ran to its end."""
    peak_memory_mb: float = 0.0
    """Largest growth of the child's resident memory seen during the call."""


def _rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def _serve(conn: Any) -> None:  # noqa: ANN401 - a multiprocessing Connection
    # The parent's handlers (Spark's, pytest's) are not ours to run here, and a crash is reported by the parent
    # in one line, not as a Python stack dump on stderr.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    faulthandler.disable()
    with contextlib.suppress(OSError):  # named for ps and top (Linux): the executors' decoders, not workers
        Path("/proc/self/comm").write_text(PROCESS_NAME)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        fn, args = job
        try:
            # One message per call: what a failed call yielded is dropped anyway, and a message per item cost
            # about 1.5 ms per video in wake-ups (6 % of the decode stage on short videos).
            conn.send(("end", list(fn(*args))))
        except Exception:  # noqa: BLE001 - a bug in our code: the parent raises it with this traceback
            conn.send(("bug", traceback.format_exc()))


class DecoderProcess:
    """A reusable child process that runs generator functions under a time and memory cap."""

    def __init__(self) -> None:
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Any = None
        self._prepared: set[tuple[Callable[..., Iterator[Any]], tuple]] = set()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def _start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True, name=PROCESS_NAME)
        self._proc.start()
        child.close()
        self._conn = parent
        self._prepared = set()
        if not parent.poll(30) or parent.recv()[0] != "ready":
            raise RuntimeError("the decoding process did not start within 30 s; see the executor's stderr")

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5)
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._conn.close()  # the child's recv ends with EOFError and it returns
            self._proc.join(5)
        self._kill()

    def prepare(self, fn: Callable[..., Iterator[Any]], args: tuple, timeout_s: float = 600.0) -> None:
        """Run ``fn(*args)`` once per child (again in a replacement): setup every later call shares, such as a
        model load, so it is not charged to the first call's memory cap. Setup that fails is no property of a
        file: it raises."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        if (fn, args) in self._prepared:
            return
        outcome = self.run(fn, args, Limits(timeout_s=timeout_s, max_memory_mb=1 << 30))
        if outcome.failure is not None:
            raise RuntimeError(f"setting up the decoding process ({fn.__module__}.{fn.__qualname__}) failed: "
                               f"{outcome.failure.detail}")
        self._prepared.add((fn, args))

    def run(self, fn: Callable[..., Iterator[Any]], args: tuple, limits: Limits,
            on_start: Callable[[int], None] | None = None) -> Outcome:
        """Run ``fn(*args)`` (a module-level generator function; arguments pickled) in the child and collect what
        it yields. A crash, a hang past ``limits.timeout_s`` or growth past ``limits.max_memory_mb`` ends the call
        with a ``Rejected`` in ``failure``; an exception inside ``fn`` is a bug and raised here with its
        traceback. ``on_start(pid)`` is called once the job was handed over (tests send signals with it)."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        proc, conn = self._proc, self._conn
        crash, timeout, oom, timeout_key, memory_key = limits.failures
        baseline = _rss_bytes(proc.pid)
        conn.send((fn, args))
        if on_start is not None:
            on_start(proc.pid)
        start, peak = time.monotonic(), 0
        cap = limits.max_memory_mb * (1 << 20)
        while True:
            try:
                msg = conn.recv() if conn.poll(_POLL_S) else None
            except (EOFError, OSError):  # the child died mid-message
                msg = None
            if msg is not None:
                kind, value = msg
                if kind == "end":
                    return Outcome(value, None, peak / (1 << 20))
                self._kill()
                if "StoreUnreachable: " in value:  # the store's outage, not the file's nor a bug: stop the task
                    raise StoreUnreachable(value.rsplit("StoreUnreachable: ", 1)[1].strip())
                raise RuntimeError(f"bug in the decoding process (not a property of the file):\n{value}")
            if not proc.is_alive():
                code = proc.exitcode
                self._kill()
                what = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0
                        else f"exited with status {code}")
                return Outcome([], Rejected(limits.stage, crash, f"{limits.stage} process {what}"),
                               peak / (1 << 20))
            if baseline is not None:
                rss = _rss_bytes(proc.pid)
                if rss is not None:
                    peak = max(peak, rss - baseline)
                    if peak > cap:
                        self._kill()
                        return Outcome([], Rejected(
                            limits.stage, oom, f"{limits.stage} process grew by {peak / (1 << 20):.0f} MB > "
                            f"{memory_key}={limits.max_memory_mb}"), peak / (1 << 20))
            elapsed = time.monotonic() - start
            if elapsed > limits.timeout_s:
                self._kill()
                return Outcome([], Rejected(
                    limits.stage, timeout, f"no end after {elapsed:.1f} s > {timeout_key}={limits.timeout_s:g}"),
                    peak / (1 << 20))


_per_thread = threading.local()
_every: list[DecoderProcess] = []
_every_guard = threading.Lock()


def shared() -> DecoderProcess:
    """This thread's decoder child (created on first use, replaced after a failure by ``run``): one per Spark
    worker process, whose tasks run one at a time, and one per request thread of the online service."""
    child = getattr(_per_thread, "child", None)
    if child is None:
        child = _per_thread.child = DecoderProcess()
        with _every_guard:
            _every.append(child)
    return child


def close_all() -> None:
    """End every thread's decoder child (a service stopping: none may outlive it). Killed, not asked: each child
    forked later holds a copy of the earlier ones' pipes, so none would see its pipe close."""
    with _every_guard:
        for child in _every:
            child._kill()
