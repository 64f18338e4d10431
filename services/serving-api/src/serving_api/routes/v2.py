"""Open Inference Protocol (KServe V2) over REST: health, metadata and infer for model "churn".

One input tensor per feature, named like the JSON field; BYTES for the two categoricals,
INT* for the integer features, FP* (or INT*) for Balance and EstimatedSalary. The output is
``churn_probability`` (FP64); ``churn_prediction`` (INT64) and ``risk_level`` (BYTES) are
returned too when the request's ``outputs`` asks for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.params import Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from churn_core import InvalidCustomerError
from churn_core.schema import FEATURES
from serving_api import __version__
from serving_api.body import read_json
from serving_api.errors import ApiError, ErrorResponse, field_error, json_response
from serving_api.routes.predict import ready_service, run_predictions

MODEL_NAME = "churn"
INT_TYPES = frozenset({"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"})
FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})
ACCEPTED_TYPES: dict[str, frozenset[str]] = {
    spec.name: frozenset({"BYTES"})
    if spec.kind == "category"
    else INT_TYPES
    if spec.kind == "int"
    else FLOAT_TYPES | INT_TYPES
    for spec in FEATURES
}
DECLARED_TYPE = {
    spec.name: {"category": "BYTES", "int": "INT64", "float": "FP64"}[spec.kind]
    for spec in FEATURES
}
INFER_REQUEST_REF = {"$ref": "#/components/schemas/InferRequest"}
OUTPUT_TYPES = {"churn_probability": "FP64", "churn_prediction": "INT64", "risk_level": "BYTES"}


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class Ready(BaseModel):
    ready: bool


class Live(BaseModel):
    live: bool


class InferInput(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    shape: list[int] = Field(min_length=1, max_length=2)
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class RequestedOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[InferInput] = Field(min_length=1)
    outputs: list[RequestedOutput] | None = None


class InferOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[InferOutput]


class V2Error(BaseModel):
    error: str
    detail: Any = None


def _v2_error(status: int, message: str, field: str | None = None) -> ApiError:
    detail: Any = message
    if field is not None:
        detail = [{"loc": ["body", "inputs", field], "msg": message, "type": "value_error"}]
    return ApiError(status, detail, extra={"error": f"{field}: {message}" if field else message})


def _flatten(data: list[Any]) -> list[Any]:
    if not any(isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            out.append(value)
        else:
            stack.pop()
    return out


def customers_from_tensors(inputs: Sequence[InferInput], limit: int) -> list[dict[str, Any]]:
    by_name: dict[str, InferInput] = {}
    for tensor in inputs:
        if tensor.name not in ACCEPTED_TYPES:
            raise _v2_error(422, "unknown input; expected one tensor per feature", tensor.name)
        if tensor.name in by_name:
            raise _v2_error(422, "input given more than once", tensor.name)
        by_name[tensor.name] = tensor
    missing = [name for name in ACCEPTED_TYPES if name not in by_name]
    if missing:
        raise _v2_error(422, "missing input tensor", missing[0])
    rows: int | None = None
    columns: dict[str, list[Any]] = {}
    for name, tensor in by_name.items():
        if tensor.datatype not in ACCEPTED_TYPES[name]:
            raise _v2_error(
                422, f"datatype {tensor.datatype} not accepted (use {DECLARED_TYPE[name]})", name
            )
        shape = tensor.shape
        if (len(shape) == 2 and shape[1] != 1) or any(d < 0 for d in shape):
            raise _v2_error(422, f"shape {shape} must be [n] or [n, 1]", name)
        values = _flatten(tensor.data)
        if len(values) != shape[0]:
            raise _v2_error(422, f"shape {shape} does not match {len(values)} values", name)
        if rows is None:
            rows = shape[0]
        elif shape[0] != rows:
            raise _v2_error(422, f"has {shape[0]} rows, other inputs have {rows}", name)
        columns[name] = values
    assert rows is not None
    if rows == 0:
        raise _v2_error(422, "inputs hold no rows")
    if rows > limit:
        raise _v2_error(413, f"{rows} rows; the limit is {limit}")
    return [{name: columns[name][i] for name in columns} for i in range(rows)]


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
        raise ApiError(422, errors, extra={"error": "invalid inference request"}) from None
    customers = customers_from_tensors(body.inputs, batch_limit)
    wanted = [o.name for o in body.outputs] if body.outputs else ["churn_probability"]
    for name in wanted:
        if name not in OUTPUT_TYPES:
            message = f"unknown output {name!r}; have {', '.join(OUTPUT_TYPES)}"
            raise ApiError(
                422,
                [{"loc": ["body", "outputs"], "msg": message, "type": "value_error"}],
                extra={"error": message},
            )
    try:
        predictions = await run_predictions(service, customers, explain=False)
    except InvalidCustomerError as exc:
        first = exc.errors[0]
        raise ApiError(
            422,
            [
                {
                    "loc": ["body", "inputs", e.field, e.index],
                    "msg": e.message,
                    "type": "value_error",
                }
                for e in exc.errors
            ],
            extra={"error": f"{first.field}[{first.index}]: {first.message}"},
        ) from None
    outputs = [
        {
            "name": name,
            "shape": [len(predictions)],
            "datatype": OUTPUT_TYPES[name],
            "data": [getattr(p, name) for p in predictions],
        }
        for name in wanted
    ]
    payload: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "model_version": service.predictor.model_version,  # type: ignore[union-attr]
        "outputs": outputs,
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
        except ApiError as exc:  # V2 clients read "error"
            if exc.extra is None:
                message = exc.detail if isinstance(exc.detail, str) else "invalid request"
                exc.extra = {"error": message}
            raise

    router = APIRouter()
    router.include_router(open_router)
    router.include_router(model_router)
    return router
