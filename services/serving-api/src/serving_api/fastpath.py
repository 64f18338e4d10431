"""POST /predict and /predict/batch answered straight from ASGI, ahead of FastAPI.

FastAPI's routing, dependency solving and Request/Response objects cost more per request than
the prediction itself, and so did the layers around them: Starlette's error middleware, our
request-context middleware and their send wrappers took ~12 µs of a 40 µs in-process call
(README, fourth pass). So ``ServingAPI`` (app.py) hands these two routes to ``FastPredict``
before its middleware stack, and ``FastPredict`` does in one coroutine what the middleware does
for every other route (request id, last-resort 500, metrics, access log) with one pass over the
headers.

What it skips, and why that is safe: only machinery. The documented FastAPI routes stay
registered (OpenAPI, and the fallback when ``SERVING_FAST_PATH=false``) and both paths call the
same ``predict_one`` / ``predict_many`` and the same checks in the same order (API key, query,
readiness, media type, size, JSON), so they answer identically: same bodies, status codes and
headers (tests/test_fastpath.py sends every case to both).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson

from serving_api.body import check_content_type, parse_json, read_asgi
from serving_api.config import Settings
from serving_api.errors import ApiError, error_payload
from serving_api.logging import request_id_var
from serving_api.middleware import (
    RequestRecorder,
    internal_error_body,
    log_unhandled,
    request_id_for,
)
from serving_api.model import ModelService
from serving_api.routes.predict import predict_body, predict_many
from serving_api.security import check_api_key

Handler = Callable[[bytes, bool], Awaitable[bytes]]  # the raw body, explain
Reply = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def parse_explain(query_string: bytes) -> bool:
    if not query_string:
        return False
    explain = False
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name != "explain":
            continue
        lowered = value.lower()
        if lowered in _TRUE:
            explain = True
        elif lowered in _FALSE:
            explain = False
        else:
            raise ApiError(
                422,
                [
                    {
                        "loc": ["query", "explain"],
                        "msg": "Input should be a valid boolean, unable to interpret input",
                        "type": "bool_parsing",
                        "field": "explain",
                    }
                ],
            )
    return explain


def reply(status: int, body: bytes, headers: dict[str, str] | None) -> Reply:
    raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if headers:
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return status, raw, body


class FastPredict:
    def __init__(self, service: ModelService, settings: Settings, recorder: RequestRecorder):
        self.service = service
        self.recorder = recorder
        self.body_limit = settings.max_body_bytes
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self.api_key = key.encode() if key else None
        limit = settings.batch_limit
        self.routes: dict[str, Handler] = {
            "/predict": lambda raw, explain: predict_body(service, raw, explain),
            "/predict/batch": lambda raw, explain: predict_many(
                service, parse_json(raw), explain, limit
            ),
        }

    def match(self, scope: dict[str, Any]) -> Handler | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        return self.routes.get(scope["path"])

    async def __call__(
        self, scope: dict[str, Any], receive: Any, send: Any, handler: Handler
    ) -> None:
        """The whole exchange: the request context (RequestContextMiddleware's part) and the
        route, with the response sent once it is complete."""
        started = time.perf_counter()
        request_id = api_key = length = None
        media_types = []
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if request_id is None:
                    request_id = value
            elif name == b"x-api-key":
                if api_key is None:
                    api_key = value
            elif name == b"content-length":
                length = value
            elif name == b"content-type":
                media_types.append(value)
        id_bytes = request_id_for(request_id)
        token = request_id_var.set(id_bytes.decode("ascii"))
        status = 500
        try:
            try:
                status, headers, body = await self.answer(
                    scope, receive, handler, api_key, length, media_types
                )
            except Exception:  # nothing was sent yet: the last-resort 500
                log_unhandled(scope)
                status, headers, body = reply(500, internal_error_body(id_bytes.decode()), None)
            headers.append((b"x-request-id", id_bytes))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            self.recorder.record(scope["path"], "POST", status, time.perf_counter() - started)
            request_id_var.reset(token)

    async def answer(
        self,
        scope: dict[str, Any],
        receive: Any,
        handler: Handler,
        api_key: bytes | None,
        length: bytes | None,
        media_types: list[bytes],
    ) -> Reply:
        """The route's answer, in the FastAPI routes' order of checks."""
        try:
            if self.api_key is not None:
                check_api_key(api_key, self.api_key)
            explain = parse_explain(scope["query_string"])
            self.service.require_ready()
            for media_type in media_types:
                check_content_type(media_type)
            raw = await read_asgi(receive, length, self.body_limit)
            return reply(200, await handler(raw, explain), None)
        except ApiError as exc:
            return reply(exc.status, orjson.dumps(error_payload(exc)), exc.headers)
