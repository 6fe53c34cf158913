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
import math
import os
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow.fs as pafs

S3_SCHEMES = ("s3", "s3a", "s3n")
_ENDPOINT, _REGION, _PATH_STYLE, _RETRY = "AWS_ENDPOINT_URL", "AWS_REGION", "SORA_S3_PATH_STYLE", "SORA_S3_RETRY_S"
ENV_KEYS = (_ENDPOINT, _REGION, _PATH_STYLE, _RETRY)
DEFAULT_RETRY_S = 120.0
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
    retry_s: float | None = None
    """How long a request keeps being retried, with growing pauses, while the store cannot be reached (pyarrow,
    delta-rs, and Hadoop's s3a on the executors; the lake lock's renewals keep trying). A shorter outage is ridden
    through; a longer one stops the run with one line (exit status 75), the lake as the last finished write left
    it, and a rerun completes the work. None: SORA_S3_RETRY_S from the environment if set, else 120."""

    def __post_init__(self) -> None:
        if self.endpoint_url and urlparse(self.endpoint_url).scheme not in ("http", "https"):
            raise ValueError(f"endpoint_url must start with http:// or https://, got {self.endpoint_url!r}")
        if self.retry_s is not None and not self.retry_s > 0:
            raise ValueError(f"retry_s must be > 0, got {self.retry_s}")

    def env(self) -> dict[str, str]:
        """The settings as environment variables (only those this config sets)."""
        out = {}
        if self.endpoint_url:
            out[_ENDPOINT] = self.endpoint_url
        if self.region:
            out[_REGION] = self.region
        if self.path_style is not None:
            out[_PATH_STYLE] = "true" if self.path_style else "false"
        if self.retry_s is not None:
            out[_RETRY] = f"{self.retry_s:g}"
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
    retry_s: float = DEFAULT_RETRY_S

    @property
    def sdk_attempts(self) -> int:
        """Attempts for the AWS SDKs' default retry strategy (pauses of 25 ms doubling each time) that keep
        retrying for at least ``retry_s``."""
        return max(3, math.ceil(math.log2(self.retry_s / 0.025 + 1)) + 1)


def current() -> _Settings:
    """The settings in force in this process."""
    endpoint = os.environ.get(_ENDPOINT) or None
    style = os.environ.get(_PATH_STYLE)
    try:
        retry_s = float(os.environ.get(_RETRY) or DEFAULT_RETRY_S)
    except ValueError:
        retry_s = DEFAULT_RETRY_S
    return _Settings(endpoint_url=endpoint, region=os.environ.get(_REGION) or "us-east-1",
                     path_style=(style == "true") if style in ("true", "false") else endpoint is not None,
                     retry_s=retry_s if retry_s > 0 else DEFAULT_RETRY_S)


class StoreUnreachable(OSError):
    """The object store could not be reached for longer than ``retry_s``: the run stops (it is not a property of
    any file, so nothing becomes a reject)."""


_UNREACHABLE = ("NETWORK_CONNECTION", "Couldn't connect to server", "Connection refused", "Connection reset",
                "error sending request", "Unable to execute HTTP request", "Could not connect to the endpoint",
                "EndpointConnectionError", "connection was closed", "Failed to connect", "StoreUnreachable",
                "connection closed before message completed", "Failure when receiving data from the peer",
                "Server returned nothing", "failed to respond", "NoHttpResponseException")

_STORE_WORDS = ("s3a://", "s3://", "S3", "AWS")
"""Words in an error's text that say it came from reading or writing the object store."""


def _texts(error: BaseException | str) -> list[str]:
    """The texts of ``error`` and of the errors it was raised from or during (ten at most)."""
    texts = [error] if isinstance(error, str) else []
    seen: BaseException | None = None if isinstance(error, str) else error
    while seen is not None and len(texts) < 10:
        try:
            texts.append(f"{type(seen).__name__}: {seen}")
        except Exception:  # noqa: BLE001 - a Java error's text needs the JVM, which may be gone
            texts.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return texts


def unreachable_reason(error: BaseException | str) -> str | None:
    """The line of ``error`` (its message, or a Java or Python traceback's text, any cause included) that says
    the store could not be reached; None when it says nothing of the kind."""
    for text in _texts(error):
        for line in str(text).splitlines():
            if any(marker in line for marker in _UNREACHABLE):
                return line.strip()[:300]
    return None


def is_s3(uri: str) -> bool:
    return uri.split("://", 1)[0].lower() in S3_SCHEMES if "://" in uri else False


@functools.lru_cache(maxsize=1)
def _s3(endpoint_url: str | None, region: str, path_style: bool, attempts: int) -> pafs.S3FileSystem:
    # pyarrow's S3 client must be finalized before the interpreter exits, or its threads may abort the process.
    atexit.register(pafs.finalize_s3)
    kwargs = {"region": region, "force_virtual_addressing": not path_style,
              "retry_strategy": pafs.AwsDefaultS3RetryStrategy(max_attempts=attempts)}
    if endpoint_url:
        parsed = urlparse(endpoint_url)
        kwargs.update(endpoint_override=parsed.netloc + parsed.path.rstrip("/"), scheme=parsed.scheme)
    return pafs.S3FileSystem(**kwargs)


def s3_filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's S3 filesystem for the settings in force, and ``bucket/key`` of ``uri``."""
    s = current()
    # bucket/key as written: a key may hold '#', '?' or '%', which URL parsing would cut or decode.
    return _s3(s.endpoint_url, s.region, s.path_style, s.sdk_attempts), uri.split("://", 1)[1].rstrip("/")


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
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false" if s.path_style else "true",
            "max_retries": "1000", "retry_timeout": f"{math.ceil(s.retry_s)}s"}
    if s.endpoint_url:
        opts["AWS_ENDPOINT_URL"] = s.endpoint_url
        if s.endpoint_url.startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
    return opts


def executor_env() -> dict[str, str]:
    """Spark settings that give executors this process's object-store settings (never credentials: executors get
    those from their own environment or provider chain)."""
    return {f"spark.executorEnv.{key}": os.environ[key] for key in ENV_KEYS if os.environ.get(key)}


def outage_reason(error: BaseException) -> str | None:
    """``unreachable_reason`` of ``error`` when it is the store's own outage: raised as ``StoreUnreachable``,
    naming the store's endpoint, or with the store still unreachable now (not a connection error between Spark's
    processes, say). An error from the store in words no marker knows (a response cut off mid-body, say) counts
    too when the store does not answer now. None otherwise."""
    reason = unreachable_reason(error)
    if reason is not None and "StoreUnreachable" in reason:
        return reason
    s = current()
    endpoint = urlparse(s.endpoint_url).netloc if s.endpoint_url else "amazonaws.com"
    text = "\n".join(_texts(error))
    if reason is not None:
        return reason if endpoint in text or not reachable() else None
    if (endpoint in text or any(word in text for word in _STORE_WORDS)) and not reachable():
        return text.strip().splitlines()[0][:300]
    return None


def reachable(timeout_s: float = 2.0) -> bool:
    """Whether a TCP connection to the store's endpoint (AWS's S3 endpoint for the region when none is set) opens
    now."""
    import socket

    s = current()
    parsed = urlparse(s.endpoint_url or f"https://s3.{s.region}.amazonaws.com")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname or "", port), timeout=timeout_s).close()
    except OSError:
        return False
    return True
