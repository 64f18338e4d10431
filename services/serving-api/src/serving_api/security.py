"""Optional API key on the prediction routes (health and metrics stay open)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Security
from fastapi.security import APIKeyHeader

from serving_api.errors import ApiError

API_KEY_HEADER = "X-API-Key"


def api_key_dependency(expected: str) -> Callable[..., Awaitable[None]]:
    expected_bytes = expected.encode()
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)

    async def require_api_key(key: str | None = Security(header)) -> None:
        if key is None or not hmac.compare_digest(key.encode(), expected_bytes):
            raise ApiError(401, "missing or invalid API key", {"WWW-Authenticate": "ApiKey"})

    return require_api_key
