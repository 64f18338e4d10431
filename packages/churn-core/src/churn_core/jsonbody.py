"""A request body parsed as JSON the same strict way on every serving path.

orjson refuses what a lenient parser would let through to the model or turn into a server
error: NaN and Infinity literals, numbers that overflow a double (``1e400``), a UTF-8 byte
order mark, invalid UTF-8, and nesting deeper than 1,024 levels (Python's json raises
RecursionError there, which handlers used to answer with a 500). Each is a ``RequestBodyError``
whose message says what is wrong and where; services answer it with 400.

Duplicate keys in an object: the last one wins, on every path (RFC 8259 leaves the choice to
the parser; Python's json does the same), and the customer is then validated as usual.

The media type: ``application/json`` (a ``charset`` parameter, when given, must be UTF-8, the
only encoding RFC 8259 allows between systems). A request with no Content-Type at all is read as
JSON, as on the SageMaker path: a client that names another type gets 415 instead of having
its body guessed at.

Python 3.10 compatible: this module ships inside the SageMaker tarball with the rest of the core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson


class RequestBodyError(ValueError):
    """The body is empty or not JSON that the services accept; ``str()`` is the reason."""


class RequestBodyTooLarge(RequestBodyError):
    """The body is larger than the service takes (services answer 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


class UnsupportedMediaType(RequestBodyError):
    """The Content-Type is not one the route takes (services answer 415)."""


JSON_MEDIA_TYPE = "application/json"
_PLAIN_JSON = frozenset({JSON_MEDIA_TYPE, JSON_MEDIA_TYPE.encode()})


def media_type(header: str | bytes | None) -> str:
    """The ``type/subtype`` of a Content-Type value (or of one Accept entry), lower-cased and
    without parameters; ``""`` when there is none."""
    if header is None:
        return ""
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    return text.split(";", 1)[0].strip().lower()


def check_json_content_type(header: str | bytes | None, *others: str) -> None:
    """Refuse (UnsupportedMediaType) a body that is not declared as JSON, or as one of
    ``others``; a missing Content-Type is read as JSON."""
    if header in _PLAIN_JSON:  # what nearly every client sends: no parsing needed
        return
    kind = media_type(header)
    if not kind:
        return
    if kind not in (JSON_MEDIA_TYPE, *others):
        accepted = " or ".join((JSON_MEDIA_TYPE, *others))
        raise UnsupportedMediaType(f"Content-Type {kind!r} is not supported; send {accepted}")
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    for parameter in text.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise UnsupportedMediaType(
                f"charset {value.strip()!r} is not supported; JSON bodies are UTF-8"
            )


class ClientDisconnected(Exception):
    """The client went away before its whole body was read (nobody to answer)."""


async def asgi_body_chunks(receive: Callable[[], Awaitable[Any]]) -> AsyncIterator[bytes]:
    """The body chunks of an ASGI request, as ``read_limited`` takes them."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def read_limited(
    chunks: AsyncIterator[bytes],
    content_length: str | bytes | None,
    limit: int,
) -> bytes:
    """The whole body from an ASGI server's chunks, refused as soon as the declared or the
    read size passes ``limit``, so an oversized body is never held in memory whole. (A body that
    trickles in is cut off by the server: churn_core.http_protocol.)"""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise RequestBodyTooLarge(limit)
    return await _collect(chunks, limit)


async def read_asgi_body(
    receive: Callable[[], Awaitable[Any]], content_length: str | bytes | None, limit: int
) -> bytes:
    """``read_limited(asgi_body_chunks(receive), content_length, limit)``, with one ``await``
    and no async generator for the usual body that arrives in one message (a few µs less on
    every request of a fast path); a body in several messages goes the general way."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise RequestBodyTooLarge(limit)
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    body: bytes = message.get("body", b"")
    if len(body) > limit:
        raise RequestBodyTooLarge(limit)
    if not message.get("more_body", False):
        return body
    return body + await _collect(asgi_body_chunks(receive), limit - len(body))


async def _collect(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    parts = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise RequestBodyTooLarge(limit)
        parts.append(chunk)
    return b"".join(parts)


def parse_json_body(body: bytes | bytearray | memoryview | str) -> Any:
    """The JSON value of a request body, or RequestBodyError saying why there is none."""
    data = body if isinstance(body, (bytes, str)) else bytes(body)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if not data.strip():  # asked only on failure: a copy of every body otherwise
            raise RequestBodyError("request body is empty; send a JSON object") from None
        unit = "character" if isinstance(data, str) else "byte"
        raise RequestBodyError(
            f"request body is not valid JSON ({exc.msg} at {unit} {exc.pos})"
        ) from None
