"""Open Inference Protocol (KServe V2) over REST: health, metadata and infer for model "churn".

The protocol's types are in ``serving_api.v2_types``, the tensor codec in ``serving_api.v2_codec``
and the binary tensor data extension in ``serving_api.v2_binary``; this module holds the routes.

Versions: ``/v2/models/churn/versions/{version}[/ready|/infer]`` serve the bundle's
``model_version``; any other version, and any other model name, answer 404 with the protocol's
``{"error": …}`` object. A request the server cannot take answers 400 ``{"error": …}`` naming
the input (413 for a batch over the limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.params import Depends
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from churn_core import InvalidCustomerError, Prediction
from serving_api import __version__
from serving_api.body import check_content_type, parse_json, read_body
from serving_api.errors import ApiError, field_error, json_response
from serving_api.model import ModelService
from serving_api.routes.predict import ready_service, run_predictions
from serving_api.v2_binary import EXTENSION, HEADER, decode, encode, split_body, take
from serving_api.v2_codec import (
    DECLARED_TYPE,
    MODEL_NAME,
    OUTPUT_TYPES,
    Tensor,
    TensorError,
    check_header,
    check_model,
    check_names,
    customers_from_tensors,
    flatten,
    invalid_values,
    model_metadata,
    output_values,
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
    tensor_errors,
    v2_error,
)

__all__ = ["DECLARED_TYPE", "MODEL_NAME", "OUTPUT_TYPES", "build_router", "install"]

INFER_REQUEST_REF = {"$ref": "#/components/schemas/InferRequest"}
SERVER_METADATA = {"name": "serving-api", "version": __version__, "extensions": [EXTENSION]}


def served_service(request: Request, version: str | None) -> ModelService:
    """The ready service, after a 404 for a version other than the one served."""
    service = ready_service(request)
    try:
        check_model(MODEL_NAME, version, service.predictor.model_version)  # type: ignore[union-attr]
    except LookupError as exc:
        raise v2_error(404, str(exc)) from None
    return service


async def read_infer_request(request: Request) -> tuple[InferRequest, memoryview | None]:
    """The JSON inference header, and the binary part when the extension's header is sent."""
    encoding = request.headers.get("content-encoding", "identity")
    if encoding != "identity":
        raise v2_error(415, f"Content-Encoding {encoding!r} is not supported; send it uncompressed")
    header_length = request.headers.get(HEADER)
    # With the binary extension the body is JSON followed by raw bytes: octet-stream is taken too.
    binary_types = ("application/octet-stream",) if header_length is not None else ()
    check_content_type(request.headers.get("content-type"), *binary_types)
    body = await read_body(request)
    binary = None
    if header_length is not None:
        body, binary = split_body(body, header_length)
    try:
        payload = parse_json(body)
    except ApiError as exc:
        if header_length is None and b'"binary_data_size"' in body:
            # What a binary-tensor client sends when a proxy drops the header: say that, not
            # where the JSON parser tripped over the binary part.
            raise v2_error(
                400,
                "the body carries binary tensor data (parameters.binary_data_size) but no "
                "Inference-Header-Content-Length header giving the length of its JSON part",
                ["header", "Inference-Header-Content-Length"],
            ) from None
        raise exc from None
    try:
        return InferRequest.model_validate(payload), binary
    except ValidationError as exc:
        errors = [
            field_error(["body", *e["loc"]], e["msg"], e["type"])
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "body"
        raise v2_error(400, f"{where}: {first['msg']}", errors=errors) from None


def input_tensors(body: InferRequest, binary: memoryview | None) -> list[Tensor]:
    """Each input's values, from its JSON ``data`` or from the binary part."""
    check_names([t.name for t in body.inputs])
    tensors: list[Tensor] = []
    offset = 0
    for item in body.inputs:
        check_header(item.name, item.datatype, item.shape)
        size = (item.parameters or {}).get("binary_data_size")
        if size is None:
            if item.data is None:
                raise TensorError("no data and no parameters.binary_data_size", item.name)
            values = flatten(item.data)
        elif binary is None:
            raise TensorError(
                "parameters.binary_data_size given without the Inference-Header-Content-Length "
                "header",
                item.name,
            )
        elif item.data is not None:
            raise TensorError("give data or parameters.binary_data_size, not both", item.name)
        else:
            raw = take(binary, offset, size, item.name)
            offset += len(raw)
            values = decode(item.name, item.datatype, item.shape, raw)
        tensors.append(Tensor(item.name, item.datatype, item.shape, values))
    if binary is not None and offset != len(binary):
        raise TensorError(
            f"{len(binary) - offset} bytes of binary data beyond the inputs' binary_data_size",
            loc=["inputs"],
        )
    return tensors


def _flag(parameters: dict[str, Any] | None, name: str, loc: list[str | int]) -> bool | None:
    value = (parameters or {}).get(name)
    if value is not None and not isinstance(value, bool):
        raise TensorError(f"parameters.{name} must be true or false", loc=[*loc, name])
    return value


def output_plan(body: InferRequest) -> list[tuple[str, bool]]:
    """The outputs to return, each with whether it goes as binary data; checked before any
    prediction is made (and captured)."""
    wanted = requested_outputs([o.name for o in body.outputs] if body.outputs else None)
    default = _flag(body.parameters, "binary_data_output", ["parameters"]) or False
    per_output = {
        o.name: _flag(o.parameters, "binary_data", ["outputs", o.name, "parameters"])
        for o in body.outputs or []
    }
    return [
        (name, default if per_output.get(name) is None else bool(per_output[name]))
        for name in wanted
    ]


def infer_payload(
    body: InferRequest,
    plan: list[tuple[str, bool]],
    predictions: Sequence[Prediction],
    model_version: str,
) -> tuple[dict[str, Any], list[bytes]]:
    """The JSON response and, for outputs asked for as binary data, their bytes in order."""
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, as_binary in plan:
        values = output_values(predictions, name)
        output: dict[str, Any] = {
            "name": name,
            "datatype": OUTPUT_TYPES[name],
            "shape": [len(predictions)],
        }
        if as_binary:
            raw = encode(OUTPUT_TYPES[name], values)
            output["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            output["data"] = values
        outputs.append(output)
    payload: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "model_version": model_version,
        "outputs": outputs,
    }
    if body.id is not None:
        payload["id"] = body.id
    return payload, chunks


async def infer_response(request: Request, batch_limit: int, version: str | None) -> Response:
    service = served_service(request, version)
    try:
        body, binary = await read_infer_request(request)
        customers = customers_from_tensors(input_tensors(body, binary), batch_limit)
        plan = output_plan(body)
        try:
            predictions = await run_predictions(service, customers, explain=False)
        except InvalidCustomerError as exc:
            raise tensor_errors(invalid_values(exc)) from None
        served = service.predictor.model_version  # type: ignore[union-attr]
        payload, chunks = infer_payload(body, plan, predictions, served)
    except TensorError as exc:
        raise tensor_errors([exc]) from None
    if not chunks:
        return json_response(200, payload)
    header = orjson.dumps(payload)
    return Response(
        b"".join([header, *chunks]),
        200,
        {"Inference-Header-Content-Length": str(len(header))},
        media_type="application/octet-stream",
    )


def model_ready_response(request: Request, version: str | None) -> Response:
    service: ModelService = request.app.state.service
    if not service.ready:
        return json_response(503, {"ready": False})
    served_service(request, version)
    return json_response(200, {"ready": True})


def model_metadata_response(request: Request, version: str | None) -> Response:
    service = served_service(request, version)
    predictor = service.predictor
    metadata = model_metadata(predictor.model_version)  # type: ignore[union-attr]
    metadata["parameters"] = {
        "bundle_digest": predictor.bundle_digest,  # type: ignore[union-attr]
        "signature": predictor.signature.as_dict(),  # type: ignore[union-attr]
    }
    return json_response(200, metadata)


def build_router(batch_limit: int, dependencies: Sequence[Depends]) -> APIRouter:
    open_router = APIRouter(prefix="/v2", tags=["open inference protocol"])
    model_router = APIRouter(
        prefix="/v2", tags=["open inference protocol"], dependencies=list(dependencies)
    )
    model = f"/models/{MODEL_NAME}"
    versioned = f"{model}/versions/{{model_version}}"
    statuses = [
        (400, "Invalid inference request; error names the input"),
        (404, "Unknown model version"),
        (413, "Too many rows or too large a body"),
        (415, "Compressed body, or a Content-Type other than JSON"),
        (503, "Model not ready"),
    ]
    if dependencies:
        statuses.append((401, "Missing or invalid API key"))
    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": V2Error, "description": reason} for status, reason in statuses
    }
    ready_errors: dict[int | str, dict[str, Any]] = {
        503: {"model": Ready, "description": "Model not ready"},
        404: errors[404],
    }

    @open_router.get("", response_model=ServerMetadata)
    @open_router.get("/", response_model=ServerMetadata, include_in_schema=False)
    async def server_metadata() -> Response:
        return json_response(200, SERVER_METADATA)

    @open_router.get("/health/live", response_model=Live)
    async def live() -> Response:
        return json_response(200, {"live": True})

    @open_router.get("/health/ready", response_model=Ready, responses={503: ready_errors[503]})
    async def server_ready(request: Request) -> Response:
        ready = request.app.state.service.ready
        return json_response(200 if ready else 503, {"ready": ready})

    @model_router.get(f"{model}/ready", response_model=Ready, responses=ready_errors)
    async def model_ready(request: Request) -> Response:
        return model_ready_response(request, None)

    @model_router.get(f"{versioned}/ready", response_model=Ready, responses=ready_errors)
    async def model_version_ready(request: Request, model_version: str) -> Response:
        return model_ready_response(request, model_version)

    @model_router.get(model, response_model=ModelMetadata, responses=errors)
    async def model_metadata_route(request: Request) -> Response:
        return model_metadata_response(request, None)

    @model_router.get(versioned, response_model=ModelMetadata, responses=errors)
    async def model_version_metadata(request: Request, model_version: str) -> Response:
        return model_metadata_response(request, model_version)

    infer_doc: dict[str, Any] = {
        "response_model": InferResponse,
        "responses": errors,
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": INFER_REQUEST_REF}},
            }
        },
    }

    @model_router.post(f"{model}/infer", **infer_doc)
    async def infer(request: Request) -> Response:
        return await infer_response(request, batch_limit, None)

    @model_router.post(f"{versioned}/infer", **infer_doc)
    async def infer_version(request: Request, model_version: str) -> Response:
        return await infer_response(request, batch_limit, model_version)

    router = APIRouter()
    router.include_router(open_router)
    router.include_router(model_router)
    return router


def _not_found_message(path: str) -> str:
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[1] == "models" and parts[2] != MODEL_NAME:
        try:
            check_model(parts[2], None, None)
        except LookupError as exc:
            return str(exc)
    return f"no such Open Inference Protocol route: {path}"


async def _v2_http_exception(request: Request, exc: Exception) -> Response:
    """Under /v2, routing errors (404, 405) are the protocol's ``{"error": …}`` object."""
    if not isinstance(exc, HTTPException) or not request.url.path.startswith("/v2"):
        return await http_exception_handler(request, exc)  # type: ignore[arg-type]
    message = _not_found_message(request.url.path) if exc.status_code == 404 else str(exc.detail)
    return json_response(exc.status_code, {"error": message}, exc.headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _v2_http_exception)
