"""Open Inference Protocol (KServe V2) over REST: health, metadata and infer for model "churn".

The protocol's types are in ``serving_api.v2_types``, the tensor codec in ``serving_api.v2_codec``;
this module holds the routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.params import Depends
from fastapi.responses import Response
from pydantic import ValidationError

from churn_core import InvalidCustomerError
from serving_api import __version__
from serving_api.body import read_json
from serving_api.errors import ApiError, ErrorResponse, field_error, json_response
from serving_api.routes.predict import ready_service, run_predictions
from serving_api.v2_codec import (
    DECLARED_TYPE,
    OUTPUT_TYPES,
    customers_from_tensors,
    encode_outputs,
    invalid_tensor_values,
    requested_outputs,
)
from serving_api.v2_types import (
    InferRequest,
    InferResponse,
    Live,
    ModelMetadata,
    Ready,
    ServerMetadata,
    V2Error,
    v2_error,
)

MODEL_NAME = "churn"
INFER_REQUEST_REF = {"$ref": "#/components/schemas/InferRequest"}


async def infer_response(request: Request, batch_limit: int) -> Response:
    service = ready_service(request)
    try:
        body = InferRequest.model_validate(
            await read_json(request, request.app.state.settings.max_body_bytes)
        )
    except ValidationError as exc:
        errors = [
            field_error(["body", *e["loc"]], e["msg"], e["type"])
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise v2_error(422, "invalid inference request", errors=errors) from None
    customers = customers_from_tensors(body.inputs, batch_limit)
    wanted = requested_outputs([o.name for o in body.outputs] if body.outputs else None)
    try:
        predictions = await run_predictions(service, customers, explain=False)
    except InvalidCustomerError as exc:
        raise invalid_tensor_values(exc) from None
    payload: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "model_version": service.predictor.model_version,  # type: ignore[union-attr]
        "outputs": encode_outputs(predictions, wanted),
    }
    if body.id is not None:
        payload["id"] = body.id
    return json_response(200, payload)


def build_router(batch_limit: int, dependencies: Sequence[Depends]) -> APIRouter:
    open_router = APIRouter(prefix="/v2", tags=["open inference protocol"])
    model_router = APIRouter(
        prefix="/v2", tags=["open inference protocol"], dependencies=list(dependencies)
    )
    not_ready = {503: {"model": Ready, "description": "Model not ready"}}
    errors = [
        (400, "Malformed JSON"),
        (413, "Too many rows or too large a body"),
        (422, "Invalid inference request; detail names the input"),
        (503, "Model not ready"),
    ]
    if dependencies:
        errors.append((401, "Missing or invalid API key"))

    @open_router.get("", response_model=ServerMetadata)
    async def server_metadata() -> Response:
        return json_response(200, {"name": "serving-api", "version": __version__, "extensions": []})

    @open_router.get("/health/live", response_model=Live)
    async def live() -> Response:
        return json_response(200, {"live": True})

    @open_router.get("/health/ready", response_model=Ready, responses=not_ready)
    async def server_ready(request: Request) -> Response:
        ready = request.app.state.service.ready
        return json_response(200 if ready else 503, {"ready": ready})

    @model_router.get(f"/models/{MODEL_NAME}/ready", response_model=Ready, responses=not_ready)
    async def model_ready(request: Request) -> Response:
        ready = request.app.state.service.ready
        return json_response(200 if ready else 503, {"ready": ready})

    @model_router.get(
        f"/models/{MODEL_NAME}",
        response_model=ModelMetadata,
        responses={503: {"model": ErrorResponse, "description": "Model not ready"}},
    )
    async def model_metadata(request: Request) -> Response:
        service = ready_service(request)
        return json_response(
            200,
            {
                "name": MODEL_NAME,
                "versions": [service.predictor.model_version],  # type: ignore[union-attr]
                "platform": "lightgbm",
                "parameters": {"signature": service.predictor.signature.as_dict()},  # type: ignore[union-attr]
                "inputs": [
                    {"name": name, "datatype": DECLARED_TYPE[name], "shape": [-1]}
                    for name in DECLARED_TYPE
                ],
                "outputs": [
                    {"name": name, "datatype": datatype, "shape": [-1]}
                    for name, datatype in OUTPUT_TYPES.items()
                ],
            },
        )

    @model_router.post(
        f"/models/{MODEL_NAME}/infer",
        response_model=InferResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": INFER_REQUEST_REF}},
            }
        },
        responses={
            **{status: {"model": V2Error, "description": reason} for status, reason in errors},
        },
    )
    async def infer(request: Request) -> Response:
        try:
            return await infer_response(request, batch_limit)
        except ApiError as exc:  # shared errors (body, readiness) get V2's "error" too
            if exc.extra is None:
                message = exc.detail if isinstance(exc.detail, str) else "invalid request"
                exc.extra = {"error": message}
            raise

    router = APIRouter()
    router.include_router(open_router)
    router.include_router(model_router)
    return router
