"""Request ids, metrics, access logs and the last-resort 500: one pure-ASGI middleware for the
FastAPI routes, and the pieces the fast path (fastpath.py) uses to do the same for its own.

Pure ASGI rather than BaseHTTPMiddleware: it adds a few microseconds, not a task per request.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from typing import Any

import orjson

from serving_api.logging import request_id_var
from serving_api.metrics import Metrics

logger = logging.getLogger("serving_api.access")
error_logger = logging.getLogger("serving_api.errors")

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
# Generated ids: a random per-process prefix and a counter (a uuid4 per request costs more).
_ID_PREFIX = os.urandom(8).hex().encode("ascii")
_ids = itertools.count(1)

Scope = dict[str, Any]


def request_id_for(given: bytes | None) -> bytes:
    """The caller's X-Request-ID when it is a plain token, else a new one."""
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return b"%s%016x" % (_ID_PREFIX, next(_ids))


def internal_error_body(request_id: str) -> bytes:
    """The last-resort 500's body: no exception text, only what lets an operator find the log."""
    return orjson.dumps({"detail": "internal server error", "request_id": request_id})


def log_unhandled(scope: Scope) -> None:
    error_logger.exception(
        "unhandled error", extra={"path": scope.get("path"), "method": scope["method"]}
    )


class RequestRecorder:
    """Counts and times every request (and writes the access log when it is on)."""

    def __init__(self, metrics: Metrics, access_log: bool) -> None:
        self.metrics = metrics
        self.access_log = access_log

    def record(self, route: str, method: str, status: int, elapsed: float) -> None:
        self.metrics.observe_request(route, method, status, elapsed)
        if self.access_log:
            logger.info(
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )


class RequestContextMiddleware:
    """Every request but the fast path's (fastpath.py does the same for its two routes)."""

    def __init__(self, app: Any, recorder: RequestRecorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((v for name, v in scope["headers"] if name == b"x-request-id"), None)
        id_bytes = request_id_for(given)
        request_id = id_bytes.decode("ascii")
        token = request_id_var.set(request_id)
        id_header = (b"x-request-id", id_bytes)
        status = 500
        response_started = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log_unhandled(scope)
            status = 500
            if not response_started:
                body = internal_error_body(request_id)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            id_header,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            template = getattr(scope.get("route"), "path", None) or "unmatched"
            self.recorder.record(template, scope["method"], status, time.perf_counter() - started)
            request_id_var.reset(token)
