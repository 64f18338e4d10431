"""Reading a JSON body without building per-request pydantic models (orjson, size-limited)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from serving_api.errors import ApiError


async def read_json(request: Request, limit: int) -> Any:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return parse_json(b"".join(chunks))


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
