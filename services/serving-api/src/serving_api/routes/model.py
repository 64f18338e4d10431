"""GET /v1/model: the bundle's manifest."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving_api.errors import ApiError, ErrorResponse

router = APIRouter(tags=["model"])


@router.get(
    "/v1/model",
    response_model=dict[str, Any],
    responses={503: {"model": ErrorResponse, "description": "Model not ready"}},
)
async def model_manifest(request: Request) -> Response:
    service = request.app.state.service
    if not service.ready:
        raise ApiError(503, "model is not ready", {"Retry-After": "1"})
    return Response(service.manifest_json, media_type="application/json")
