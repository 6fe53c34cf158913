"""The online service: an ASGI app (Starlette) that scores one video per request with the served model.

    POST /v1/score   a video's bytes as the body, or {"uri": "<lake URI>"} as JSON -> class, confidence, the
                     model and alias entry that served it. Bearer token required.
    GET  /metrics    Prometheus text format. Bearer token required.
    GET  /healthz    the process answers (no token).
    GET  /readyz     a model is loaded (no token; 503 until one is).

Bad input is a 4xx with a reason code, never a 5xx: a body too large (413, before it is read whole), not JSON
or no uri (400), a URI outside the lake (403) or missing (404), and every reason the per-video path rejects a
file for (422: not_video, unreadable, too_short, too_long, probe_timeout, decode_timeout, ...). Decoding runs
in a contained process per request thread (``video.contain``), under ``decode_timeout_s`` and
``decode_max_memory_mb``, so a file that hangs or crashes the decoder ends its own request only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from sora_model.deploy.scoring import score_video
from sora_model.lake import storage
from sora_model.serve.config import ServeConfig
from sora_model.serve.metrics import Metrics
from sora_model.serve.model_slot import ModelSlot, Served
from sora_model.serve.recorder import Recorder
from sora_model.video import contain

logger = logging.getLogger(__name__)

REJECT_STATUS = 422
"""HTTP status of a video the per-video path rejects (the reason code is in the body)."""


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class Service:
    """What the app's routes share: the config, the token, the model slot, the scoring threads, the recorder."""

    def __init__(self, cfg: ServeConfig, token: str, slot: ModelSlot, recorder: Recorder | None) -> None:
        self.cfg, self.slot, self.recorder = cfg, slot, recorder
        self._token = token.encode()
        self.metrics = recorder.metrics if recorder is not None else Metrics()
        self.pool = ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="sora-serve-score")
        self.allowed = [storage.normalize(cfg.lake_uri), *(storage.normalize(p) for p in cfg.uri_prefixes)]
        self.scratch = tempfile.mkdtemp(prefix="sora-serve-")

    def authorized(self, header: str | None) -> bool:
        scheme, _, given = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token)

    def may_read(self, uri: str) -> bool:
        """Whether ``uri`` lies under the lake or a configured prefix (normalized: no ``..`` way out)."""
        target = storage.normalize(uri)
        return any(target == p or target.startswith(p.rstrip("/") + "/") for p in self.allowed)

    def score(self, path: str, served: Served, uri: str | None) -> tuple[int, dict[str, Any]]:
        """Score the video at ``path`` (a temporary file of the body, or the URI asked for); runs in a scoring
        thread."""
        cfg, card = self.cfg, served.card
        decode = replace(cfg.decode.with_frames_shape(card.frames_shape), isolate=True,
                         video_timeout_s=cfg.decode_timeout_s, video_max_memory_mb=cfg.decode_max_memory_mb)
        began = time.perf_counter()
        preds, rejected = score_video(path, served.predictor, cfg.clean, cfg.clip, decode, cfg.batch_size,
                                      cfg.max_video_s)
        seconds = time.perf_counter() - began
        if rejected is not None:
            self.metrics.rejected(rejected.reason)
            return REJECT_STATUS, {"error": rejected.reason, "stage": rejected.stage, "detail": rejected.detail}
        self.metrics.scored(len(preds), seconds)
        probs = np.mean([p["probabilities"] for p in preds], axis=0)
        label = int(np.argmax(probs))
        alias = served.target.alias
        video_id = preds[0]["video_id"]
        if self.recorder is not None:
            now = datetime.now(timezone.utc)
            run_id = self.recorder.run_id(now)
            self.recorder.add([{**p, "uri": uri or f"upload:{video_id}", "model_id": card.model_id,
                                "model_uri": served.target.uri, "run_id": run_id, "scored_at": now,
                                "alias": alias.alias if alias else None, "alias_seq": alias.seq if alias else None}
                               for p in preds])
        return 200, {
            "label": card.classes[label], "label_index": label, "confidence": float(probs[label]),
            "probabilities": {c: float(p) for c, p in zip(card.classes, probs)}, "clips": len(preds),
            "video_id": video_id, "model_id": card.model_id,
            "alias": alias.alias if alias else None, "alias_seq": alias.seq if alias else None,
            "scoring_ms": round(seconds * 1000, 1)}

    def close(self) -> None:
        self.slot.close()
        if self.recorder is not None:
            self.recorder.close()
        self.pool.shutdown(wait=True)
        contain.close_all()
        storage.delete_dir(self.scratch)


def _json(status: int, body: dict[str, Any]) -> Any:  # noqa: ANN401 - a starlette Response
    from starlette.responses import JSONResponse

    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def make_app(service: Service) -> Any:  # noqa: ANN401 - a Starlette app
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    cfg, metrics = service.cfg, service.metrics

    async def healthz(request: Request) -> Any:  # noqa: ANN401
        return _json(200, {"status": "ok"})

    async def readyz(request: Request) -> Any:  # noqa: ANN401
        served = service.slot.served
        if served is None:
            return _json(503, {"status": "no model loaded", "error": service.slot.last_error})
        return _json(200, {"status": "ready", "model_id": served.card.model_id})

    async def metrics_route(request: Request) -> Any:  # noqa: ANN401
        if not service.authorized(request.headers.get("authorization")):
            return _json(401, {"error": "unauthorized", "detail": "Authorization: Bearer <token> required"})
        served = service.slot.served
        alias = served.target.alias if served else None
        text = metrics.render(served.card.model_id if served else None, alias.alias if alias else None,
                              alias.seq if alias else None, service.slot.swaps,
                              service.recorder.pending if service.recorder else 0, _rss_bytes())
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    async def read_body(request: Request) -> tuple[str | None, dict[str, Any] | None]:
        """The body into a temporary file (its path), or the refusal; never more than max_body_bytes read."""
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cfg.max_body_bytes):
            return None, {"error": "too_large", "detail": f"body over max_body_mb={cfg.max_body_mb:g}"}
        fd, path = tempfile.mkstemp(dir=service.scratch, suffix=".video")
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > cfg.max_body_bytes:
                    out.close()
                    os.unlink(path)
                    return None, {"error": "too_large", "detail": f"body over max_body_mb={cfg.max_body_mb:g}"}
                out.write(chunk)
        return path, None

    async def score(request: Request) -> Any:  # noqa: ANN401, PLR0911
        if not service.authorized(request.headers.get("authorization")):
            return _json(401, {"error": "unauthorized", "detail": "Authorization: Bearer <token> required"})
        served = service.slot.served  # this request's model, whatever swaps meanwhile
        if served is None:
            return _json(503, {"error": "not_ready", "detail": "no model loaded yet"})
        uri, path = None, None
        if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
            raw = await request.body() if int(request.headers.get("content-length") or 0) <= 65536 else b""
            try:
                uri = json.loads(raw)["uri"]
                if not isinstance(uri, str) or not uri:
                    raise TypeError(uri)
            except (ValueError, KeyError, TypeError):
                return _json(400, {"error": "bad_request", "detail": 'a JSON body must be {"uri": "<lake URI>"}'})
            if not service.may_read(uri):
                return _json(403, {"error": "forbidden_uri", "detail": "the URI is outside the lake and uri_prefixes"})
            if not storage.is_file(uri):
                return _json(404, {"error": "not_found", "detail": f"no file at {uri}"})
            target = storage.normalize(uri)
        else:
            try:
                path, refused = await read_body(request)
            except ClientDisconnect:
                return _json(400, {"error": "bad_request", "detail": "the client went away mid-body"})
            if refused is not None:
                return _json(413, refused)
            target = path
        try:
            loop = asyncio.get_running_loop()
            status, body = await loop.run_in_executor(service.pool, service.score, target, served,
                                                      storage.normalize(uri) if uri else None)
        finally:
            if path is not None:
                os.unlink(path)
        return _json(status, body)

    async def measured(request: Request, handler: Any) -> Any:  # noqa: ANN401
        metrics.request_started()
        began = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status_code
            return response
        except Exception:
            logger.exception("bug: request to %s failed; please report it with this trace", request.url.path)
            return _json(500, {"error": "internal", "detail": "a bug in the service; it is logged"})
        finally:
            metrics.request_ended(request.url.path, status, time.perf_counter() - began)

    def route(path: str, handler: Any, methods: list[str]) -> Route:  # noqa: ANN401
        async def endpoint(request: Request) -> Any:  # noqa: ANN401
            return await measured(request, handler)

        return Route(path, endpoint, methods=methods)

    return Starlette(routes=[route("/healthz", healthz, ["GET"]), route("/readyz", readyz, ["GET"]),
                             route("/metrics", metrics_route, ["GET"]), route("/v1/score", score, ["POST"])])

