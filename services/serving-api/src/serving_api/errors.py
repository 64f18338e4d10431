"""Error responses. Clients see a status, a short reason and, for bad fields, their names;
never a stack trace or an internal message."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel

from churn_core import InvalidCustomerError
from churn_core.envelope import EnvelopeError, TooManyInstancesError


class ErrorResponse(BaseModel):
    detail: str


class InternalErrorResponse(BaseModel):
    detail: str
    request_id: str


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        detail: Any,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extra = extra


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, headers, media_type="application/json")


def field_error(loc: list[str | int], message: str, kind: str = "value_error") -> dict[str, Any]:
    """One item of FastAPI's 422 body shape (loc, msg, type), plus the field's name."""
    return {"loc": loc, "msg": message, "type": kind, "field": str(loc[-1])}


def invalid_customers(
    exc: InvalidCustomerError, prefix: list[str | int], indexed: bool
) -> ApiError:
    errors = [
        field_error([*prefix, e.index, e.field] if indexed else [*prefix, e.field], e.message)
        for e in exc.errors
    ]
    return ApiError(422, errors)


def invalid_envelope(exc: EnvelopeError) -> ApiError:
    """413 for too many instances, else 422 at the envelope's field."""
    if isinstance(exc, TooManyInstancesError):
        return ApiError(413, exc.message)
    if exc.field == "(body)":
        return unprocessable(["body"], f"the body {exc.message}")
    return unprocessable(["body", *exc.field.split(".")], f"{exc.field} {exc.message}")


def unprocessable(loc: list[str | int], message: str) -> ApiError:
    return ApiError(422, [field_error(loc, message)])


def error_payload(exc: ApiError) -> dict[str, Any]:
    return {"detail": exc.detail} if exc.extra is None else {**exc.extra, "detail": exc.detail}


async def _api_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ApiError):  # registered for ApiError only
        raise exc
    payload = error_payload(exc)
    if "error" not in payload and request.url.path.startswith("/v2"):
        # The Open Inference Protocol's error object: {"error": message}.
        payload["error"] = exc.detail if isinstance(exc.detail, str) else "invalid request"
    return json_response(exc.status, payload, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # registered for it only
        raise exc
    errors = [
        field_error(list(e.get("loc", ["body"])) or ["body"], e.get("msg", "invalid"), e["type"])
        for e in exc.errors()
    ]
    return json_response(422, {"detail": errors})


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
