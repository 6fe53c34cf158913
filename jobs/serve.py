"""python jobs/serve.py [--conf-file conf/serve/local.yaml] [key=value ...]

Serves the model an alias points at (default production) over HTTP, one video per request: POST /v1/score with
a video's bytes (or {"uri": "<lake URI>"} as JSON) and a bearer token -> class, confidence, and the model and
alias entry that served it. The alias is read again every alias_poll_s and a change swaps the model with no
failed request. Binds 127.0.0.1 unless told otherwise; the token comes from $SORA_SERVE_TOKEN (or token_file),
never from the config. Also GET /healthz, /readyz and /metrics (Prometheus). SIGTERM or Ctrl-C stops it after the
requests in flight, writing the predictions it still holds to the lake.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys

from jobs.cli import parse, parser_for, run_main

logger = logging.getLogger("jobs.serve")


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from sora_model.serve.app import Service, make_app
    from sora_model.serve.config import ServeConfig
    from sora_model.serve.metrics import Metrics
    from sora_model.serve.model_slot import ModelSlot
    from sora_model.serve.recorder import Recorder

    parser = parser_for(ServeConfig, __doc__.strip().split("\n\n")[1].replace("\n", " "), "jobs/serve.py")
    args, cfg = parse(parser, ServeConfig, argv)
    if cfg is None:
        return 0
    slot = ModelSlot(cfg.lake_uri, cfg.model, cfg.threads_per_request)
    try:
        token = cfg.token()
        slot.refresh()
    except (ValueError, FileNotFoundError) as e:
        logger.error("%s", e)
        return 2
    recorder = Recorder(cfg.lake_uri, cfg.stream, cfg.monitor_window_s, Metrics()) if cfg.record else None
    service = Service(cfg, token, slot, recorder)
    sock = socket.socket(socket.AF_INET6 if ":" in cfg.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((cfg.host, cfg.port))
    except OSError as e:
        logger.error("cannot listen on %s:%d: %s", cfg.host, cfg.port, e)
        return 2
    served = slot.served
    alias = served.target.alias
    via = f" ({alias.alias} #{alias.seq})" if alias else ""
    logger.info("serving %s%s on http://%s:%d (POST /v1/score; GET /healthz /readyz /metrics)",
                served.card.model_id, via, cfg.host, sock.getsockname()[1])
    slot.watch(cfg.alias_poll_s)
    if recorder is not None:
        recorder.start(cfg.record_every_s)
    server = uvicorn.Server(uvicorn.Config(make_app(service), log_level="warning", access_log=False,
                                           lifespan="off", timeout_graceful_shutdown=60))
    # uvicorn stops on SIGTERM or SIGINT, then raises the signal again for the handler it found: this one, so
    # the process goes on to close the service (the predictions it holds, the decoding processes) and exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        service.close()
        logger.info("stopped; %d requests answered", sum(service.metrics.responses.values()))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
