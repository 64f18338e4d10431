"""POST /predict and /predict/batch answered straight from ASGI.

FastAPI's routing, dependency solving and Request/Response objects cost more per request than
the prediction itself (measured in the README). The documented FastAPI routes stay registered
(OpenAPI, and the fallback when ``SERVING_FAST_PATH=false``) and both call the same
``predict_one`` / ``predict_many``, so the two paths answer identically: same checks in the
same order (API key, query, readiness, body), same bodies and status codes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson

from churn_core.jsonbody import ClientDisconnected, asgi_body_chunks
from serving_api.body import check_content_type, parse_json, read_limited
from serving_api.config import Settings
from serving_api.errors import ApiError, error_payload
from serving_api.model import ModelService
from serving_api.routes.predict import predict_many, predict_one
from serving_api.security import check_api_key

Handler = Callable[[Any, bool], Awaitable[bytes]]

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


async def read_body(scope: dict[str, Any], receive: Any, limit: int) -> bytes:
    length = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = value
        elif name == b"content-type":
            check_content_type(value)
    return await read_limited(asgi_body_chunks(receive), length, limit)


async def send_json(send: Any, status: int, body: bytes, headers: dict[str, str] | None) -> None:
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if headers:
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class FastPredict:
    def __init__(self, service: ModelService, settings: Settings) -> None:
        self.service = service
        self.body_limit = settings.max_body_bytes
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self.api_key = key.encode() if key else None
        limit = settings.batch_limit
        self.routes: dict[str, Handler] = {
            "/predict": lambda body, explain: predict_one(service, body, explain),
            "/predict/batch": lambda body, explain: predict_many(service, body, explain, limit),
        }

    def match(self, scope: dict[str, Any]) -> Handler | None:
        if scope["method"] != "POST":
            return None
        return self.routes.get(scope["path"])

    async def __call__(
        self, scope: dict[str, Any], receive: Any, send: Any, handler: Handler
    ) -> int:
        """Answer the request; return the status sent (0 when the client went away)."""
        try:
            if self.api_key is not None:
                given = next((v for name, v in scope["headers"] if name == b"x-api-key"), None)
                check_api_key(given, self.api_key)
            explain = parse_explain(scope["query_string"])
            self.service.require_ready()
            raw = await read_body(scope, receive, self.body_limit)
            body = parse_json(raw)
            content = await handler(body, explain)
        except ApiError as exc:
            await send_json(send, exc.status, orjson.dumps(error_payload(exc)), exc.headers)
            return exc.status
        except ClientDisconnected:
            return 0
        await send_json(send, 200, content, None)
        return 200
