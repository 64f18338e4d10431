"""A request body parsed as JSON the same strict way on every serving path.

orjson refuses what a lenient parser would let through to the model or turn into a server
error: NaN and Infinity literals, numbers that overflow a double (``1e400``), a UTF-8 byte
order mark, invalid UTF-8, and nesting deeper than 1,024 levels (Python's json raises
RecursionError there, which handlers used to answer with a 500). Each is a ``RequestBodyError``
whose message says what is wrong and where; services answer it with 400.

Duplicate keys in an object: the last one wins, on every path (RFC 8259 leaves the choice to
the parser; Python's json does the same), and the customer is then validated as usual.

Python 3.10 compatible: this module ships inside the SageMaker tarball with the rest of the core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson


class RequestBodyError(ValueError):
    """The body is empty or not JSON that the services accept; ``str()`` is the reason."""


class RequestBodyTooLarge(RequestBodyError):
    """The body is larger than the service takes (services answer 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


async def read_limited(
    chunks: AsyncIterator[bytes], content_length: str | bytes | None, limit: int
) -> bytes:
    """The whole body from an ASGI server's chunks, refused as soon as the declared or the
    read size passes ``limit``, so an oversized body is never held in memory whole."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise RequestBodyTooLarge(limit)
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
    if not data.strip():
        raise RequestBodyError("request body is empty; send a JSON object")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        unit = "character" if isinstance(data, str) else "byte"
        raise RequestBodyError(
            f"request body is not valid JSON ({exc.msg} at {unit} {exc.pos})"
        ) from None
