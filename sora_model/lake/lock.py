"""One writer per lake at a time: a lease lock kept in the lake itself (``<lake>/_lock``), through the same
storage layer for a folder and an object store.

Delta's own conflict detection is not enough for a lake in an object store: without a commit service, two
drivers writing one table can both "succeed" and one commit is lost. So every job that writes the lake's
tables (curate, score, cycle, alias) holds this lock while it runs; a second run either waits for it
(``lock.wait_s``) or stops at once with a message naming the run that holds it.

The lock is a small JSON file created only if absent (``O_CREAT | O_EXCL`` on a file system; ``If-None-Match: *``
on S3). The holder renews it every ``lease_s / 4`` from a thread (on S3 conditional on its ETag, so a lock that
was taken over is never renewed by the old holder); a lock not renewed for ``lease_s`` belongs to a run that died
and is taken over, again by one conditional write, so two runs cannot both take it. A holder that ran where the
new run runs (the same host and process namespace) and whose process is gone is taken over at once: its lease
need not run out. Within one process the lock is reentrant: the cycle holds it and the curate step inside it
does not wait for itself. The run that takes the lock removes the staging folders left by runs that died.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from sora_model.lake import object_store, storage

logger = logging.getLogger(__name__)

LOCK_FILE = "_lock"


@dataclass(frozen=True, kw_only=True)
class LockConfig:
    wait_s: float = 0.0
    """How long a job waits for another run that holds the lake before it stops with a message naming that run
    (0: stop at once; a scheduler retries later)."""
    lease_s: float = 120.0
    """A lock its holder has not renewed for this long is taken for a dead run's and taken over (the holder
    renews every lease_s / 4)."""

    def __post_init__(self) -> None:
        if self.wait_s < 0:
            raise ValueError(f"wait_s must be >= 0, got {self.wait_s}")
        if self.lease_s < 1:
            raise ValueError(f"lease_s must be >= 1, got {self.lease_s}")


class LakeBusy(RuntimeError):
    """Another run holds the lake's lock."""


@dataclass(frozen=True)
class _Held:
    body: dict
    tag: str | None
    """What a conditional overwrite of this version of the lock file needs (S3: its ETag; a file: its body)."""


class _Backend:
    """Create-if-absent, read, and replace-if-unchanged of one small file."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def create(self, body: bytes) -> str | None:
        """The new version's tag, or None when the file exists."""
        raise NotImplementedError

    def read(self) -> tuple[bytes, str] | None:
        raise NotImplementedError

    def replace(self, body: bytes, tag: str, exclusive: bool) -> str | None:
        """Overwrite only if the file is still at version ``tag``; the new tag, or None when it changed. With
        ``exclusive`` (a takeover) two callers holding the same ``tag`` can never both succeed."""
        raise NotImplementedError

    def delete(self, tag: str) -> None:
        raise NotImplementedError


class _FileBackend(_Backend):
    def create(self, body: bytes) -> str | None:
        os.makedirs(os.path.dirname(self.uri), exist_ok=True)
        try:
            fd = os.open(self.uri, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return None
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        return body.decode()

    def read(self) -> tuple[bytes, str] | None:
        try:
            with open(self.uri, "rb") as f:
                body = f.read()
        except FileNotFoundError:
            return None
        return body, body.decode()

    def replace(self, body: bytes, tag: str, exclusive: bool) -> str | None:
        current = self.read()
        if current is None or current[1] != tag:
            return None
        if not exclusive:
            # The holder renewing its own lock: nobody else writes it while it is fresh.
            tmp = f"{self.uri}.{uuid.uuid4().hex}"
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, self.uri)
            return body.decode()
        # A takeover: move the version we saw aside (one rename wins), check it was that version, create anew.
        aside = f"{self.uri}.{uuid.uuid4().hex}"
        try:
            os.rename(self.uri, aside)
        except FileNotFoundError:
            return None
        with open(aside, "rb") as f:
            seen = f.read().decode()
        if seen != tag:
            with contextlib.suppress(OSError):
                os.rename(aside, self.uri)  # not the version we meant to replace: put it back
            return None
        os.remove(aside)
        return self.create(body)

    def delete(self, tag: str) -> None:
        current = self.read()
        if current is not None and current[1] == tag:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.uri)


class _S3Backend(_Backend):
    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        import boto3
        from botocore.config import Config

        s = object_store.current()
        self.client = boto3.client("s3", endpoint_url=s.endpoint_url, region_name=s.region,
                                   config=Config(s3={"addressing_style": "path" if s.path_style else "virtual"}))
        self.bucket, self.key = uri.split("://", 1)[1].split("/", 1)

    def _refused(self, e: Exception) -> bool:
        code = getattr(e, "response", {}).get("Error", {}).get("Code")
        return code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")

    def create(self, body: bytes) -> str | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.put_object(Bucket=self.bucket, Key=self.key, Body=body, IfNoneMatch="*")["ETag"]
        except ClientError as e:
            if self._refused(e):
                return None
            raise

    def read(self) -> tuple[bytes, str] | None:
        from botocore.exceptions import ClientError

        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return got["Body"].read(), got["ETag"]

    def replace(self, body: bytes, tag: str, exclusive: bool) -> str | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.put_object(Bucket=self.bucket, Key=self.key, Body=body, IfMatch=tag)["ETag"]
        except ClientError as e:
            if self._refused(e) or e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def delete(self, tag: str) -> None:
        from botocore.exceptions import ClientError

        with contextlib.suppress(ClientError):
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=tag)


def _backend(lake_uri: str) -> _Backend:
    uri = storage.join(storage.normalize(lake_uri), LOCK_FILE)
    if object_store.is_s3(uri):
        return _S3Backend(uri)
    if not storage.is_local(uri):
        raise ValueError(f"the lake lock supports local folders and S3, not {lake_uri}")
    return _FileBackend(storage.local_path(uri))


_held_here: dict[str, int] = {}
"""Lakes this process holds, with how many nested ``lake_lock`` blocks hold each (reentrancy)."""
_held_guard = threading.Lock()


def _process_namespace() -> str:
    """This host and process namespace: where a holder's pid means the same process as here."""
    def read(path: str) -> str:
        try:
            if path.startswith("/proc/self/ns"):
                return os.readlink(path)
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return ""
    return f"{socket.gethostname()}|{read('/proc/sys/kernel/random/boot_id')}|{read('/proc/self/ns/pid')}"


def _start_ticks(pid: int) -> str:
    """The process's start time since boot (Linux; '' elsewhere): a pid reused by another process differs."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _dead_here(body: dict) -> bool:
    """The holder ran in this host's process namespace and its process is gone (or the pid is another's now)."""
    if not body.get("namespace") or body["namespace"] != _process_namespace():
        return False
    pid = int(body.get("pid") or 0)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return bool(body.get("started")) and _start_ticks(pid) != body["started"]


def describe(body: dict) -> str:
    return (f"run {body.get('run')} ({body.get('job')}, pid {body.get('pid')} on {body.get('host')}, since "
            f"{body.get('acquired_at')}, renewed {body.get('renewed_at')})")


@contextlib.contextmanager
def lake_lock(lake_uri: str, job: str, run_id: str, cfg: LockConfig) -> Iterator[None]:
    """Hold the lake's writer lock for the block; raises ``LakeBusy`` when another run holds it past
    ``cfg.wait_s``."""
    key = storage.normalize(lake_uri)
    with _held_guard:
        if _held_here.get(key):
            _held_here[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                _held_here[key] -= 1
        return
    backend = _backend(lake_uri)
    token = uuid.uuid4().hex
    held = _acquire(backend, job, run_id, token, cfg)
    with _held_guard:
        _held_here[key] = 1
    _remove_dead_staging(lake_uri)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(backend, held, stop, cfg), daemon=True,
                               name="sora-lake-lock")
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        with _held_guard:
            _held_here.pop(key, None)
        try:
            current = backend.read()
            if current is not None and json.loads(current[0]).get("token") == token:
                backend.delete(current[1])
        except Exception as e:  # noqa: BLE001 - the store unreachable: the next run here takes the lock over at once
            logger.warning("could not release the lake lock (%s): the next run on this host takes it over at once, "
                           "one elsewhere after lock.lease_s", e)


def _remove_dead_staging(lake_uri: str) -> None:
    """Staging folders are a running writer's; with the lock just taken, any left belong to runs that died."""
    from sora_model.lake.layout import LakeLayout

    root = LakeLayout.of(lake_uri).staging_root
    left = storage.list_dir(root)
    for run_id in left:
        storage.delete_dir(storage.join(root, run_id))
    if left:
        logger.info("removed the staging of %d run(s) that no longer hold the lake: %s", len(left), ", ".join(left))


def _body(job: str, run_id: str, token: str, acquired_at: str | None = None) -> dict:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"run": run_id, "job": job, "token": token, "pid": os.getpid(), "host": socket.gethostname(),
            "namespace": _process_namespace(), "started": _start_ticks(os.getpid()),
            "acquired_at": acquired_at or now, "renewed_at": now, "renewed_unix": time.time()}


def _acquire(backend: _Backend, job: str, run_id: str, token: str, cfg: LockConfig) -> list[_Held]:
    deadline = time.monotonic() + cfg.wait_s
    logged = False
    while True:
        body = _body(job, run_id, token)
        tag = backend.create(json.dumps(body).encode())
        if tag is not None:
            return [_Held(body, tag)]
        current = backend.read()
        if current is None:
            continue  # released between our create and read
        other = json.loads(current[0])
        renewed = float(other.get("renewed_unix", 0))
        age_s = time.time() - renewed
        dead = _dead_here(other)
        if age_s > cfg.lease_s or dead:
            why = ("its process is gone" if dead
                   else f"not renewed for {age_s:.0f} s > lock.lease_s={cfg.lease_s:g}")
            logger.warning("taking over the lake lock of %s: %s", describe(other), why)
            tag = backend.replace(json.dumps(body).encode(), current[1], exclusive=True)
            if tag is not None:
                return [_Held(body, tag)]
            continue
        if time.monotonic() >= deadline:
            expires = datetime.fromtimestamp(renewed + cfg.lease_s, timezone.utc).isoformat(timespec="seconds")
            raise LakeBusy(f"the lake {backend.uri.rsplit('/', 1)[0]} is being written by {describe(other)}; "
                           f"run again when it has finished, or set lock.wait_s to wait for it (if that run died "
                           f"elsewhere, its lease runs out at {expires}, lock.lease_s={cfg.lease_s:g} after its "
                           f"last renewal, and the next run takes the lake over)")
        if not logged:
            logger.info("waiting for the lake lock held by %s (up to %.0f s)", describe(other), cfg.wait_s)
            logged = True
        time.sleep(min(2.0, max(0.05, deadline - time.monotonic())))


def _renew(backend: _Backend, held: list[_Held], stop: threading.Event, cfg: LockConfig) -> None:
    while not stop.wait(cfg.lease_s / 4):
        last = held[-1]
        body = {**last.body, "renewed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "renewed_unix": time.time()}
        try:
            tag = backend.replace(json.dumps(body).encode(), last.tag, exclusive=False)
        except Exception as e:  # noqa: BLE001 - the store unreachable for now (botocore's own errors): try again
            logger.warning("could not renew the lake lock (%s); trying again in %.0f s", e, cfg.lease_s / 4)
            continue
        if tag is None:
            logger.error("the lake lock was taken over by another run while this one held it (it was not renewed "
                         "for lock.lease_s=%g s: was this process stopped?); this run's writes may conflict",
                         cfg.lease_s)
            return
        held.append(_Held(body, tag))
        del held[:-1]
