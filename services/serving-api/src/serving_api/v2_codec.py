"""Open Inference Protocol tensors ⇄ churn-core customers and predictions.

One input tensor per feature, named like the JSON field; BYTES for the two categoricals,
INT* for the integer features, FP* (or INT*) for Balance and EstimatedSalary. The output is
``churn_probability`` (FP64); ``churn_prediction`` (INT64) and ``risk_level`` (BYTES) are
returned too when the request's ``outputs`` asks for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from churn_core import InvalidCustomerError, Prediction
from churn_core.schema import FEATURES
from serving_api.errors import ApiError
from serving_api.v2_types import InferInput, v2_error

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
OUTPUT_TYPES = {"churn_probability": "FP64", "churn_prediction": "INT64", "risk_level": "BYTES"}


def _input_error(status: int, message: str, name: str | None = None) -> ApiError:
    if name is None:
        return v2_error(status, message)
    errors = [{"loc": ["body", "inputs", name], "msg": message, "type": "value_error"}]
    return v2_error(status, f"{name}: {message}", errors=errors)


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
            raise _input_error(422, "unknown input; expected one tensor per feature", tensor.name)
        if tensor.name in by_name:
            raise _input_error(422, "input given more than once", tensor.name)
        by_name[tensor.name] = tensor
    missing = [name for name in ACCEPTED_TYPES if name not in by_name]
    if missing:
        raise _input_error(422, "missing input tensor", missing[0])
    rows: int | None = None
    columns: dict[str, list[Any]] = {}
    for name, tensor in by_name.items():
        if tensor.datatype not in ACCEPTED_TYPES[name]:
            raise _input_error(
                422, f"datatype {tensor.datatype} not accepted (use {DECLARED_TYPE[name]})", name
            )
        shape = tensor.shape
        if (len(shape) == 2 and shape[1] != 1) or any(d < 0 for d in shape):
            raise _input_error(422, f"shape {shape} must be [n] or [n, 1]", name)
        values = _flatten(tensor.data)
        if len(values) != shape[0]:
            raise _input_error(422, f"shape {shape} does not match {len(values)} values", name)
        if rows is None:
            rows = shape[0]
        elif shape[0] != rows:
            raise _input_error(422, f"has {shape[0]} rows, other inputs have {rows}", name)
        columns[name] = values
    if not rows:  # every feature is present, so rows was set; 0 rows is the client's error
        raise _input_error(422, "inputs hold no rows")
    if rows > limit:
        raise _input_error(413, f"{rows} rows; the limit is {limit}")
    return [{name: columns[name][i] for name in columns} for i in range(rows)]


def requested_outputs(names: list[str] | None) -> list[str]:
    """The outputs to return: those asked for, else the probability alone."""
    wanted = names or ["churn_probability"]
    for name in wanted:
        if name not in OUTPUT_TYPES:
            raise v2_error(
                422, f"unknown output {name!r}; have {', '.join(OUTPUT_TYPES)}", ["outputs"]
            )
    return wanted


def encode_outputs(predictions: Sequence[Prediction], wanted: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "shape": [len(predictions)],
            "datatype": OUTPUT_TYPES[name],
            "data": [getattr(p, name) for p in predictions],
        }
        for name in wanted
    ]


def invalid_tensor_values(exc: InvalidCustomerError) -> ApiError:
    """A customer-field error, located at the input tensor and row it came from."""
    first = exc.errors[0]
    errors = [
        {"loc": ["body", "inputs", e.field, e.index], "msg": e.message, "type": "value_error"}
        for e in exc.errors
    ]
    return v2_error(422, f"{first.field}[{first.index}]: {first.message}", errors=errors)
