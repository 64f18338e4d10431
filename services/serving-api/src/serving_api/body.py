"""Reading a JSON body without building per-request pydantic models (orjson, size-limited)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import Request

from serving_api.errors import ApiError


async def read_json(request: Request, limit: int) -> Any:
    length = request.headers.get("content-length")
    return parse_json(await read_limited(request.stream(), length, limit))


async def read_limited(
    chunks: AsyncIterator[bytes], content_length: str | bytes | None, limit: int
) -> bytes:
    """The whole body, refused with 413 as soon as the declared or read size passes ``limit``
    (FastAPI routes pass Starlette's stream, the fast path its ASGI receive loop)."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise too_large(limit)
    parts = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise ApiError(400, "request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        message = f"request body is not valid JSON ({exc.msg} at byte {exc.pos})"
        raise ApiError(400, message) from None


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"request body larger than {limit} bytes")
