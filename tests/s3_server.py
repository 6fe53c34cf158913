"""A real S3-API server (moto's ``moto_server``, from PyPI) as its own process on 127.0.0.1, for tests about the
object store. Started once per session by the ``s3`` fixture and stopped after it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# Fake credentials: moto accepts any. They travel the way real ones do, through the environment.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sora-test-key-id", "AWS_SECRET_ACCESS_KEY": "sora-test-secret-do-not-log"}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str

    def uri(self, *parts: str, scheme: str = "s3") -> str:
        return "/".join([f"{scheme}://{self.bucket}", *parts])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(log_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = Path(sys.executable).parent / "moto_server"
    log = open(log_dir / "moto_server.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}; see {log_dir / 'moto_server.log'}")
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            return proc, endpoint
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"moto_server did not answer on {endpoint} within 60 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def make_bucket(endpoint_url: str, bucket: str) -> None:
    req = urllib.request.Request(f"{endpoint_url}/{bucket}", method="PUT")
    urllib.request.urlopen(req, timeout=10)


def environment(endpoint_url: str) -> dict[str, str]:
    return {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint_url, "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true"}


def restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
