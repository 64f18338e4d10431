"""Liveness, readiness and Prometheus metrics: always open, never behind the API key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from serving_api.errors import json_response

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str
    model_version: str | None = None
    reason: str | None = None


@router.get("/healthz", response_model=Status)
async def healthz() -> Response:
    return json_response(200, {"status": "ok"})


@router.get(
    "/readyz",
    response_model=Status,
    responses={503: {"model": Status, "description": "Model not loaded or not warmed yet"}},
)
async def readyz(request: Request) -> Response:
    service = request.app.state.service
    if service.ready:
        return json_response(
            200, {"status": "ready", "model_version": service.predictor.model_version}
        )
    if service.failure_reason:
        return json_response(503, {"status": "failed", "reason": service.failure_reason})
    return json_response(503, {"status": "failed" if service.failure else "loading"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
