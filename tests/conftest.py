"""Fixtures shared by unit and integration tests: tiny real corpora made with the project's own synthesizer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sora_model.video.synth import write_corpus
from tests import s3_server

# Every JVM the tests start (the Spark session, spark-submit, a standalone cluster's master, workers and executors)
# runs jobs of a few seconds on a few rows: HotSpot's optimizing compiler (C2) never pays back its compile time
# there and competes with the work for the 2 cores. C1 alone cut a spark-submit of the test corpus from about 51
# to 44 s. The jobs themselves run unchanged; a user's JVMs keep HotSpot's defaults. C1 alone also shrinks the
# default code cache from 240 to 48 MB, which the session JVM that serves the whole integration run filled ("CodeCache
# is full", then a fatal error that stopped its SparkContext): the tiered default size is kept.
_JIT = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"
if _JIT not in os.environ.get("JAVA_TOOL_OPTIONS", ""):
    os.environ["JAVA_TOOL_OPTIONS"] = f"{os.environ.get('JAVA_TOOL_OPTIONS', '')} {_JIT}".strip()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files holding slow tests first. make test's two processes take whole files in collection order; one of
    them started near the end (the learning test's 6 minutes) left the other process idle meanwhile."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: the order inside each group stays


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 good h264 videos (two per class, some with a hard cut) plus the bad files; read-only for tests."""
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root, videos=12, seed=11, workers=2)
    return root


@pytest.fixture(scope="session")
def manifest(corpus: Path) -> dict:
    return json.loads((corpus / "manifest.json").read_text())


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - yields an S3Server
    """A real S3-API server process on 127.0.0.1 with one bucket; this process's environment points at it (the
    way a cluster's would: endpoint and credentials as AWS environment variables) until the session ends."""
    from sora_model.lake import object_store

    proc, endpoint = s3_server.start(tmp_path_factory.mktemp("s3"))
    env = s3_server.environment(endpoint)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        s3_server.make_bucket(endpoint, "lake")
        object_store.apply(object_store.ObjectStoreConfig(endpoint_url=endpoint))
        yield s3_server.S3Server(endpoint_url=endpoint, bucket="lake")
    finally:
        s3_server.restore(saved)
        s3_server.stop(proc)


@pytest.fixture(scope="session")
def footage() -> dict[str, Path]:
    """Four real sample videos that Debian packages ship (fetched from the Debian mirror once, pinned by sha256)."""
    from sora_model.evalset.footage import real_footage

    return real_footage()


@pytest.fixture
def special_entries(tmp_path: Path) -> dict[str, Path]:
    """Entries no video is stored in, in tmp_path: a named pipe, a socket, a link to the pipe, a link to /dev/zero
    (reading the pipe blocks forever, reading /dev/zero never ends)."""
    import socket

    os.mkfifo(tmp_path / "pipe.mp4")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "socket.mp4"))
    sock.close()
    os.symlink(tmp_path / "pipe.mp4", tmp_path / "link_to_pipe.mp4")
    os.symlink("/dev/zero", tmp_path / "link_to_zero.mp4")
    return {p.name: p for p in tmp_path.iterdir()}
