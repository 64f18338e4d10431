"""Reading a JSON body without building per-request pydantic models.

The media type check, the size limit and the strict parse are churn-core's (churn_core.jsonbody,
the same on every serving path); this module turns their refusals into this API's 415, 413
and 400 answers. A body that does not arrive in time is the server's to refuse (408, from
churn_core.http_protocol), before the app sees it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.requests import ClientDisconnect

from churn_core import jsonbody
from serving_api.errors import ApiError


async def read_json(request: Request) -> Any:
    """The JSON body of a FastAPI route's request, within the app's size limit."""
    check_content_type(request.headers.get("content-type"))
    return parse_json(await read_body(request))


CLIENT_GONE = "the client went away before its body was read"


async def read_body(request: Request) -> bytes:
    """A FastAPI route's body, within the app's size limit."""
    length = request.headers.get("content-length")
    limit = request.app.state.settings.max_body_bytes
    try:
        return await jsonbody.read_limited(request.stream(), length, limit)
    except jsonbody.RequestBodyTooLarge as error:
        raise ApiError(413, str(error)) from None
    except ClientDisconnect:  # e.g. cut off by the body deadline: nobody reads an answer
        raise ApiError(400, CLIENT_GONE) from None


async def read_asgi(receive: Any, content_length: bytes | None, limit: int) -> bytes:
    """The fast path's body, straight from ASGI ``receive``: the same answers as ``read_body``."""
    try:
        return await jsonbody.read_asgi_body(receive, content_length, limit)
    except jsonbody.RequestBodyTooLarge as error:
        raise ApiError(413, str(error)) from None
    except jsonbody.ClientDisconnected:
        raise ApiError(400, CLIENT_GONE) from None


def check_content_type(header: str | bytes | None, *others: str) -> None:
    """415 unless the body is declared as JSON (or one of ``others``); none is read as JSON."""
    try:
        jsonbody.check_json_content_type(header, *others)
    except jsonbody.UnsupportedMediaType as error:
        raise ApiError(415, str(error)) from None


def parse_json(body: bytes) -> Any:
    try:
        return jsonbody.parse_json_body(body)
    except jsonbody.RequestBodyError as error:
        raise ApiError(400, str(error)) from None
