"""GET /v1/model: the bundle's manifest."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving_api.errors import ErrorResponse
from serving_api.routes.predict import ready_service

router = APIRouter(tags=["model"])


@router.get(
    "/v1/model",
    response_model=dict[str, Any],
    responses={503: {"model": ErrorResponse, "description": "Model not ready"}},
)
async def model_manifest(request: Request) -> Response:
    service = ready_service(request)
    return Response(service.manifest_json, media_type="application/json")
