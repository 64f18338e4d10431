"""One pure-ASGI middleware for request ids, metrics, access logs and the last-resort 500.

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

from serving_api.fastpath import FastPredict
from serving_api.logging import request_id_var
from serving_api.metrics import Metrics

logger = logging.getLogger("serving_api.access")
error_logger = logging.getLogger("serving_api.errors")

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
# Generated ids: a random per-process prefix and a counter (a uuid4 per request costs more).
_ID_PREFIX = os.urandom(8).hex()
_ids = itertools.count(1)

Scope = dict[str, Any]


class RequestContextMiddleware:
    def __init__(
        self,
        app: Any,
        metrics: Metrics,
        access_log: bool = False,
        fast: FastPredict | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.fast = fast

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if _REQUEST_ID.fullmatch(value):
                    request_id = value.decode("ascii")
                break
        if request_id is None:
            request_id = f"{_ID_PREFIX}{next(_ids):016x}"
        token = request_id_var.set(request_id)
        id_header = (b"x-request-id", request_id.encode("ascii"))
        status = 500
        response_started = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        fast = self.fast.match(scope) if self.fast is not None else None
        try:
            if fast is not None:
                await self.fast(scope, receive, send_with_id, fast)  # type: ignore[misc]
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            error_logger.exception(
                "unhandled error", extra={"path": scope.get("path"), "method": scope["method"]}
            )
            status = 500
            if not response_started:
                body = orjson.dumps({"detail": "internal server error", "request_id": request_id})
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
            if fast is not None:
                template = scope["path"]
            else:
                template = getattr(scope.get("route"), "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(template, scope["method"], status, elapsed)
            if self.access_log:
                logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            request_id_var.reset(token)
