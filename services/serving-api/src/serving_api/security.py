"""Optional API key on the prediction routes (health and metrics stay open)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Security
from fastapi.security import APIKeyHeader

from serving_api.errors import ApiError

API_KEY_HEADER = "X-API-Key"


def check_api_key(given: bytes | None, expected: bytes) -> None:
    """The one API-key check (FastAPI dependency and fast path): 401 unless it matches."""
    if given is None or not hmac.compare_digest(given, expected):
        raise ApiError(401, "missing or invalid API key", {"WWW-Authenticate": "ApiKey"})


def api_key_dependency(expected: str) -> Callable[..., Awaitable[None]]:
    expected_bytes = expected.encode()
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)

    async def require_api_key(key: str | None = Security(header)) -> None:
        check_api_key(None if key is None else key.encode(), expected_bytes)

    return require_api_key
