"""The online service's settings (``jobs/serve.py``): where it listens, what it serves, what it refuses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sora_model.deploy.streaming import check_stream_name
from sora_model.lake.object_store import ObjectStoreConfig
from sora_model.video.clean import CleanConfig
from sora_model.video.clips import ClipConfig
from sora_model.video.decode import DecodeConfig


@dataclass(frozen=True, kw_only=True)
class ServeConfig:
    lake_uri: str = "lake"
    """Lake holding the models, the aliases table and, for recorded predictions, the predictions table."""
    model: str = "production"
    """What to serve: an alias (watched: the service swaps to the variant it points at when it changes), a
    models-table id <run_id>/<epoch>/<variant>, or a variant directory URI."""
    host: str = "127.0.0.1"
    """Address to bind. The default takes connections from this machine only; 0.0.0.0 takes them from anywhere
    (put TLS in front: the bearer token travels in every request)."""
    port: int = 8321
    """TCP port to listen on (0: any free port, logged at start)."""
    token_env: str = "SORA_SERVE_TOKEN"
    """Environment variable holding the bearer token every request must carry (Authorization: Bearer <token>).
    The token is never part of the config, so the config a run saves cannot leak it."""
    token_file: str = ""
    """File holding the token instead (its first line), e.g. a mounted secret; read when token_env is unset."""
    max_body_mb: float = 64.0
    """A request body above this is refused with 413 before it is read whole."""
    max_video_s: float = 600.0
    """A video longer than this is refused with 422 (too_long) before it is decoded."""
    decode_timeout_s: float = 30.0
    """Wall time probing and decoding one request's video may take; beyond it the decoding process is killed and
    the request gets 422 (probe_timeout or decode_timeout)."""
    decode_max_memory_mb: int = 1024
    """Memory the decoding process of one request may grow by; beyond it, 422 (decode_oom)."""
    concurrency: int = 2
    """Requests decoded and scored at once (one thread and one decoding process each); more wait their turn."""
    threads_per_request: int = 1
    """Intra-op threads of the model in each request."""
    batch_size: int = 32
    """Clips per model call."""
    alias_poll_s: float = 2.0
    """How often the alias is read again; a change loads the new variant beside the old one, then swaps."""
    uri_prefixes: tuple[str, ...] = ()
    """Where a request may point with {"uri": ...} besides the lake (a URI outside the lake and these is refused
    with 403: the service reads nothing else)."""
    name: str = "serve"
    """The service's name in the lake: its recorded predictions' run ids and stream_batches rows (serve-<name>).
    Give each service writing to one lake its own."""
    record: bool = True
    """Write every served prediction to the lake's predictions table (so the monitoring job watches the service
    as it watches batch scoring): rows are buffered and written every record_every_s."""
    record_every_s: float = 10.0
    """How often buffered predictions are written to the lake (each write takes the lake's lock briefly, and
    waits for a later turn while another run holds it)."""
    monitor_window_s: int = 3600
    """Recorded predictions of one window of this length (aligned to UTC) share a run_id: the monitoring job
    writes one row per window once it has closed."""
    clean: CleanConfig = field(default_factory=CleanConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    """Decoder settings; frames per clip and frame size always come from the model."""
    object_store: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.port < 65536:
            raise ValueError(f"port must be in [0, 65535], got {self.port}")
        if self.max_body_mb <= 0 or self.max_video_s <= 0 or self.decode_timeout_s <= 0:
            raise ValueError(f"max_body_mb, max_video_s and decode_timeout_s must be > 0, got {self.max_body_mb}, "
                             f"{self.max_video_s} and {self.decode_timeout_s}")
        if self.decode_max_memory_mb < 1:
            raise ValueError(f"decode_max_memory_mb must be >= 1, got {self.decode_max_memory_mb}")
        if self.concurrency < 1 or self.threads_per_request < 1 or self.batch_size < 1:
            raise ValueError(f"concurrency, threads_per_request and batch_size must be >= 1, got "
                             f"{self.concurrency}, {self.threads_per_request} and {self.batch_size}")
        if self.alias_poll_s <= 0 or self.record_every_s <= 0 or self.monitor_window_s < 1:
            raise ValueError(f"alias_poll_s and record_every_s must be > 0 and monitor_window_s >= 1, got "
                             f"{self.alias_poll_s}, {self.record_every_s} and {self.monitor_window_s}")
        check_stream_name(self.name)
        if not self.token_env and not self.token_file:
            raise ValueError("token_env or token_file must name where the bearer token is")

    @property
    def stream(self) -> str:
        return f"serve-{self.name}"

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * (1 << 20))

    def token(self) -> str:
        """The bearer token, from the environment or the file; ValueError saying where to put one when neither
        holds one (the service never runs open)."""
        value = os.environ.get(self.token_env, "") if self.token_env else ""
        if not value and self.token_file:
            try:
                with open(self.token_file) as f:
                    value = f.readline().strip()
            except OSError as e:
                raise ValueError(f"token_file {self.token_file} cannot be read: {e}") from e
        if len(value) < 16:
            where = f"${self.token_env}" + (f" or the first line of {self.token_file}" if self.token_file else "")
            raise ValueError(f"no bearer token of at least 16 characters in {where}: the service needs one "
                             f"(e.g. export {self.token_env or 'SORA_SERVE_TOKEN'}=$(openssl rand -hex 24))")
        return value
