"""POST /predict and /predict/batch.

The body is read with orjson and handed to churn-core's Predictor, which validates it
strictly with its own TypeAdapter: FastAPI's per-request body model would validate the same
rules a second time and cost more than the prediction. The request schema is still published
in OpenAPI, generated from churn_core.schema.Customer (see app.openapi_schema).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.params import Depends
from fastapi.responses import Response
from pydantic import BaseModel

from churn_core import InvalidCustomerError, Prediction
from churn_core.envelope import EnvelopeError, parse_envelope
from churn_core.json_customer import plain_customer
from serving_api.body import parse_json, read_json
from serving_api.errors import (
    ErrorResponse,
    invalid_customers,
    invalid_envelope,
    unprocessable,
)
from serving_api.model import ModelService

CUSTOMER_REF = {"$ref": "#/components/schemas/Customer"}
# Beyond this many rows (or explaining more than one customer) the work runs in a worker
# thread so the event loop keeps answering health checks during long requests. One explained
# customer (~0.5 ms) runs inline: the thread hop cost about as much as the explanation.
INLINE_ROWS = 32

EXPLAIN = Query(
    False,
    description="Add per-feature contributions and base_value (probability units, additive).",
)


# churn-core's Prediction dataclass carries its own field documentation: one schema, not two.
PredictionResponse = Prediction


class BatchResponse(BaseModel):
    predictions: list[PredictionResponse]
    model_version: str


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Malformed JSON",
        401: "Missing or invalid API key",
        413: "Body or batch too large",
        415: "Content-Type other than application/json (none is read as JSON)",
        503: "Model not ready",
    }
    return {s: {"model": ErrorResponse, "description": descriptions[s]} for s in statuses}


def _request_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def ready_service(request: Request) -> ModelService:
    service: ModelService = request.app.state.service
    service.require_ready()
    return service


async def run_predictions(
    service: ModelService, customers: Sequence[Mapping[str, Any]], explain: bool
) -> list[Prediction]:
    if len(customers) > (1 if explain else INLINE_ROWS):
        async with service.batch_slots:
            return await run_in_threadpool(service.predict, customers, explain)
    return service.predict(customers, explain)


def json_bytes_response(content: bytes) -> Response:
    return Response(content, media_type="application/json")


async def predict_one(service: ModelService, customer: Any, explain: bool) -> bytes:
    """The body of POST /predict (parsed JSON) → the response body; ApiError for a bad body."""
    if not isinstance(customer, dict):
        raise unprocessable(["body"], "the body must be one customer as a JSON object")
    try:
        if explain:
            prediction = (await run_predictions(service, (customer,), explain))[0]
        else:
            prediction = service.predict_one(customer)
    except InvalidCustomerError as exc:
        raise invalid_customers(exc, ["body"], indexed=False) from None
    return prediction_body(prediction)


def prediction_body(prediction: Prediction) -> bytes:
    """POST /predict's response body for one prediction."""
    return orjson.dumps(prediction.model_dump(exclude_none=True))


async def predict_body(service: ModelService, body: bytes, explain: bool) -> bytes:
    """The body of POST /predict from its raw bytes: one plainly valid customer is decoded,
    checked and read in one pass (churn_core.json_customer); any other body is parsed and
    answered by ``predict_one``, which gives every refusal."""
    if not explain:
        plain = plain_customer(body)
        if plain is not None:
            customer, row = plain
            return prediction_body(service.predict_one(customer, row))
    return await predict_one(service, parse_json(body), explain)


async def predict_many(service: ModelService, body: Any, explain: bool, batch_limit: int) -> bytes:
    """The body of POST /predict/batch (parsed JSON) → the response body."""
    try:
        # explain comes from the query string here, so the envelope's parameters are not read.
        instances = parse_envelope(body, batch_limit, parameters=False).instances
        predictions = await run_predictions(service, instances, explain)
    except EnvelopeError as exc:
        raise invalid_envelope(exc) from None
    except InvalidCustomerError as exc:
        raise invalid_customers(exc, ["body", "instances"], indexed=True) from None
    payload = {
        "predictions": [p.model_dump(exclude_none=True) for p in predictions],
        "model_version": service.predictor.model_version,  # type: ignore[union-attr]
    }
    return orjson.dumps(payload)


def build_router(batch_limit: int, dependencies: Sequence[Depends]) -> APIRouter:
    router = APIRouter(tags=["predict"], dependencies=list(dependencies))
    statuses = (400, 401, 413, 415, 503) if dependencies else (400, 413, 415, 503)
    batch_schema = {
        "type": "object",
        "required": ["instances"],
        "properties": {
            "instances": {
                "type": "array",
                "items": CUSTOMER_REF,
                "minItems": 1,
                "maxItems": batch_limit,
            }
        },
    }

    @router.post(
        "/predict",
        response_model=PredictionResponse,
        responses=_errors(*statuses),
        openapi_extra=_request_body(CUSTOMER_REF),
        summary="Predict churn for one customer",
    )
    async def predict(request: Request, explain: bool = EXPLAIN) -> Response:
        service = ready_service(request)
        body = await read_json(request)
        return json_bytes_response(await predict_one(service, body, explain))

    @router.post(
        "/predict/batch",
        response_model=BatchResponse,
        responses=_errors(*statuses),
        openapi_extra=_request_body(batch_schema),
        summary=f"Predict churn for 1 to {batch_limit} customers",
    )
    async def predict_batch(request: Request, explain: bool = EXPLAIN) -> Response:
        service = ready_service(request)
        body = await read_json(request)
        return json_bytes_response(await predict_many(service, body, explain, batch_limit))

    return router
