"""Open Inference Protocol (KServe V2) REST types, and the one way its errors are built."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from serving_api.errors import ApiError
from serving_api.v2_codec import TensorError


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
    parameters: dict[str, Any] | None = None  # the bundle's signature status


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
    # Absent when parameters.binary_data_size says the data follow the JSON header.
    data: list[Any] | None = None
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
    # Absent (and parameters.binary_data_size set) for an output sent as binary data.
    data: list[Any] | None = None
    parameters: dict[str, Any] | None = None


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[InferOutput]


class V2Error(BaseModel):
    error: str
    detail: Any = None


def v2_error(
    status: int, message: str, loc: list[str | int] | None = None, errors: Any = None
) -> ApiError:
    """An error V2 clients can read: ``error`` holds the message (the protocol's error object);
    ``detail`` is FastAPI's list (``loc``, ``msg``, ``type``) when the error points into the
    body, else the message."""
    detail: Any = message
    if errors is not None:
        detail = errors
    elif loc is not None:
        detail = [{"loc": ["body", *loc], "msg": message, "type": "value_error"}]
    return ApiError(status, detail, extra={"error": message})


def tensor_errors(errors: list[TensorError]) -> ApiError:
    """400 (413 for a batch over the limit) for requests the codec refused."""
    first = errors[0]
    status = 413 if first.too_large else 400
    located = [
        {"loc": ["body", *e.loc], "msg": str(e), "type": "value_error"}
        for e in errors
        if e.loc is not None
    ]
    return v2_error(status, str(first), errors=located or None)
