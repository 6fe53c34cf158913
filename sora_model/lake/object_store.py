"""Object-store settings: one section that feeds pyarrow (every artifact file) and delta-rs (the catalog), the
same way in every process.

Only where and how to reach the store is configured here (endpoint, region, addressing). Credentials are never
config values, so they cannot end up in a saved ``config.yaml`` or a log line: every library reads them from the
environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``) or its provider chain
(instance roles, web identity).

The settings travel as the standard AWS environment variables (``AWS_ENDPOINT_URL``, ``AWS_REGION``) plus
``SORA_S3_PATH_STYLE``: :func:`apply` writes them into this process's environment, child processes (torchrun
ranks, DataLoader workers) inherit them, and Spark executors get them through ``spark.executorEnv.*``.
"""

from __future__ import annotations

import atexit
import functools
import os
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow.fs as pafs

S3_SCHEMES = ("s3", "s3a", "s3n")
_ENDPOINT, _REGION, _PATH_STYLE = "AWS_ENDPOINT_URL", "AWS_REGION", "SORA_S3_PATH_STYLE"
ENV_KEYS = (_ENDPOINT, _REGION, _PATH_STYLE)
"""The environment variables that carry these settings to other processes (none of them secret)."""


@dataclass(frozen=True, kw_only=True)
class ObjectStoreConfig:
    endpoint_url: str | None = None
    """S3-compatible endpoint, e.g. http://minio.internal:9000. None: AWS_ENDPOINT_URL from the environment if
    set, else AWS itself."""
    region: str | None = None
    """Region of the buckets. None: AWS_REGION from the environment if set, else us-east-1."""
    path_style: bool | None = None
    """Address buckets as <endpoint>/<bucket>/<key> (MinIO, Ceph, moto) instead of <bucket>.<endpoint>/<key>.
    None: path style exactly when an endpoint is set."""

    def __post_init__(self) -> None:
        if self.endpoint_url and urlparse(self.endpoint_url).scheme not in ("http", "https"):
            raise ValueError(f"endpoint_url must start with http:// or https://, got {self.endpoint_url!r}")

    def env(self) -> dict[str, str]:
        """The settings as environment variables (only those this config sets)."""
        out = {}
        if self.endpoint_url:
            out[_ENDPOINT] = self.endpoint_url
        if self.region:
            out[_REGION] = self.region
        if self.path_style is not None:
            out[_PATH_STYLE] = "true" if self.path_style else "false"
        return out


def apply(cfg: ObjectStoreConfig) -> None:
    """Make ``cfg`` this process's object-store settings (and its children's)."""
    os.environ.update(cfg.env())
    _s3.cache_clear()


@dataclass(frozen=True)
class _Settings:
    endpoint_url: str | None
    region: str
    path_style: bool


def current() -> _Settings:
    """The settings in force in this process."""
    endpoint = os.environ.get(_ENDPOINT) or None
    style = os.environ.get(_PATH_STYLE)
    return _Settings(endpoint_url=endpoint, region=os.environ.get(_REGION) or "us-east-1",
                     path_style=(style == "true") if style in ("true", "false") else endpoint is not None)


def is_s3(uri: str) -> bool:
    return uri.split("://", 1)[0].lower() in S3_SCHEMES if "://" in uri else False


@functools.lru_cache(maxsize=1)
def _s3(endpoint_url: str | None, region: str, path_style: bool) -> pafs.S3FileSystem:
    # pyarrow's S3 client must be finalized before the interpreter exits, or its threads may abort the process.
    atexit.register(pafs.finalize_s3)
    kwargs = {"region": region, "force_virtual_addressing": not path_style}
    if endpoint_url:
        parsed = urlparse(endpoint_url)
        kwargs.update(endpoint_override=parsed.netloc + parsed.path.rstrip("/"), scheme=parsed.scheme)
    return pafs.S3FileSystem(**kwargs)


def s3_filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's S3 filesystem for the settings in force, and ``bucket/key`` of ``uri``."""
    s = current()
    # bucket/key as written: a key may hold '#', '?' or '%', which URL parsing would cut or decode.
    return _s3(s.endpoint_url, s.region, s.path_style), uri.split("://", 1)[1].rstrip("/")


_CLIENT_OPTIONS = {
    "timeout": "30s", "connect_timeout": "5s", "pool_idle_timeout": "90s", "pool_max_idle_per_host": "1000",
    "http2_keep_alive_interval": "30s", "http2_keep_alive_timeout": "20s", "http2_keep_alive_while_idle": "false",
    "allow_invalid_certificates": "false", "http1_only": "false", "http2_only": "false", "randomize_addresses": "true",
}
"""delta-rs's HTTP client settings, given explicitly: delta-rs also reads them from environment variables of the
same names (TIMEOUT, CONNECT_TIMEOUT, ...), which shells and schedulers set for their own ends (``TIMEOUT=400``
made every read fail with "failed to parse "400" as Duration"). The values are object_store's own defaults."""


def delta_options(uri: str) -> dict[str, str]:
    """delta-rs storage options for a table at ``uri`` (empty for local tables; credentials from the environment,
    AWS_* settings too; unrelated variables that share a client setting's name are overridden)."""
    if not is_s3(uri):
        return {}
    s = current()
    opts = {**_CLIENT_OPTIONS, "AWS_REGION": s.region,
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false" if s.path_style else "true"}
    if s.endpoint_url:
        opts["AWS_ENDPOINT_URL"] = s.endpoint_url
        if s.endpoint_url.startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
    return opts


def executor_env() -> dict[str, str]:
    """Spark settings that give executors this process's object-store settings (never credentials: executors get
    those from their own environment or provider chain)."""
    return {f"spark.executorEnv.{key}": os.environ[key] for key in ENV_KEYS if os.environ.get(key)}
