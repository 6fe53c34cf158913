from __future__ import annotations

import json
import multiprocessing
import time
import uuid
from pathlib import Path

import pytest

from sora_model.lake import storage
from sora_model.lake.lock import LOCK_FILE, LakeBusy, LockConfig, lake_lock


def _hold(lake: str, seconds: float, ready, lease_s: float = 120.0) -> None:  # noqa: ANN001 - an Event
    with lake_lock(lake, "curate", "holder-run", LockConfig(lease_s=lease_s)):
        ready.set()
        time.sleep(seconds)


def _holder(lake: str, seconds: float, lease_s: float = 120.0) -> multiprocessing.Process:
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold, args=(lake, seconds, ready, lease_s))
    proc.start()
    assert ready.wait(30)
    return proc


def _lakes(tmp_path: Path, s3) -> list[str]:  # noqa: ANN001
    return [str(tmp_path / "lake"), f"s3://{s3.bucket}/locks/{uuid.uuid4().hex}"]


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_a_second_run_stops_at_once_naming_the_holder_then_gets_the_lock_when_it_is_free(tmp_path, s3, where):
    lake = _lakes(tmp_path, s3)[where == "s3"]
    holder = _holder(lake, 2.0)
    with pytest.raises(LakeBusy, match=r"being written by run holder-run \(curate, pid \d+ .*lock.wait_s"):
        with lake_lock(lake, "score", "second", LockConfig()):
            pass
    holder.join()
    with lake_lock(lake, "score", "second", LockConfig()):
        assert json.loads(storage.read_text(storage.join(lake, LOCK_FILE)))["run"] == "second"
    assert not storage.exists(storage.join(lake, LOCK_FILE))  # released


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_a_waiting_run_gets_the_lock_once_the_holder_is_done_and_a_renewed_lock_is_not_taken(tmp_path, s3, where):
    lake = _lakes(tmp_path, s3)[where == "s3"]
    holder = _holder(lake, 2.5, lease_s=1.0)  # renewed every 0.25 s: never stale while its holder lives
    start = time.monotonic()
    with lake_lock(lake, "cycle", "waiter", LockConfig(wait_s=30, lease_s=1.0)):
        assert not holder.is_alive() and time.monotonic() - start > 1.5
    holder.join()


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_the_lock_of_a_dead_run_is_taken_over_after_its_lease(tmp_path, s3, where, caplog):
    lake = _lakes(tmp_path, s3)[where == "s3"]
    dead = {"run": "dead-run", "job": "curate", "token": "t", "pid": 1, "host": "gone",
            "acquired_at": "2026-12-01T00:00:00+00:00", "renewed_at": "2026-12-01T00:00:00+00:00",
            "renewed_unix": time.time() - 300}
    storage.write_text(storage.join(lake, LOCK_FILE), json.dumps(dead))
    with lake_lock(lake, "curate", "alive", LockConfig(lease_s=60)):
        assert json.loads(storage.read_text(storage.join(lake, LOCK_FILE)))["run"] == "alive"
    assert "taking over the lake lock of run dead-run" in caplog.text


def test_the_lock_is_reentrant_in_one_process(tmp_path):
    lake = str(tmp_path / "lake")
    with lake_lock(lake, "cycle", "outer", LockConfig()):
        with lake_lock(lake, "curate", "inner", LockConfig()):
            assert json.loads((tmp_path / "lake" / LOCK_FILE).read_text())["run"] == "outer"
        assert (tmp_path / "lake" / LOCK_FILE).exists()  # still the outer block's
    assert not (tmp_path / "lake" / LOCK_FILE).exists()


def test_bad_lock_settings_name_the_value():
    with pytest.raises(ValueError, match="wait_s must be >= 0, got -1"):
        LockConfig(wait_s=-1)


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_a_killed_holder_on_this_host_is_taken_over_at_once_and_its_staging_removed(tmp_path, s3, where):
    import os
    import signal

    from sora_model.lake.layout import LakeLayout

    lake = _lakes(tmp_path, s3)[where == "s3"]
    holder = _holder(lake, 60.0)  # a 120 s lease, fresh
    layout = LakeLayout.of(lake)
    storage.write_text(storage.join(layout.staging("holder-run"), "probed", "part-0.parquet"), "half a run")
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    start = time.monotonic()
    with lake_lock(lake, "curate", "next", LockConfig()):  # no wait: the holder's process is gone
        assert json.loads(storage.read_text(storage.join(lake, LOCK_FILE)))["run"] == "next"
        assert storage.list_dir(layout.staging_root) == []
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_a_live_holder_elsewhere_is_waited_for_and_the_message_says_when_its_lease_runs_out(tmp_path, s3, where):
    lake = _lakes(tmp_path, s3)[where == "s3"]
    other = {"run": "remote-run", "job": "cycle", "token": "t", "pid": 4242, "host": "worker-7",
             "namespace": "worker-7|another-boot|pid:[1]", "acquired_at": "2026-12-01T00:00:00+00:00",
             "renewed_at": "2026-12-01T00:00:00+00:00", "renewed_unix": time.time()}
    storage.write_text(storage.join(lake, LOCK_FILE), json.dumps(other))
    storage.write_text(storage.join(lake, "_staging", "remote-run", "x.parquet"), "its own")
    with pytest.raises(LakeBusy, match=r"remote-run .* its lease runs out at 20\d\d-.*lock.lease_s=120"):
        with lake_lock(lake, "curate", "here", LockConfig()):
            pass
    assert storage.list_dir(storage.join(lake, "_staging")) == ["remote-run"]  # a live run's staging stays
