"""Open Inference Protocol tensors ⇄ churn-core customers and predictions, for REST and gRPC.

One input tensor per feature, named like the JSON field; BYTES for the two categoricals,
INT* for the integer features, FP* (or INT*) for Balance and EstimatedSalary. The output is
``churn_probability`` (FP64); ``churn_prediction`` (INT64) and ``risk_level`` (BYTES) are
returned too when the request's ``outputs`` asks for them.

Nothing here knows the transport: a request the server cannot take raises ``TensorError``,
which REST answers with 400 ``{"error": …}`` and gRPC with INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from churn_core import InvalidCustomerError, Prediction
from churn_core.schema import FEATURES

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
OUTPUT_TYPES = {"churn_probability": "FP64", "churn_prediction": "INT64", "risk_level": "BYTES"}


class TensorError(ValueError):
    """A request the server cannot take. ``field`` names the input (or parameter) at fault;
    ``loc`` is where it sits in a REST body; ``too_large`` marks a batch over the limit."""

    def __init__(
        self,
        message: str,
        field: str | None = None,
        *,
        loc: list[str | int] | None = None,
        too_large: bool = False,
    ) -> None:
        self.message = message
        self.field = field
        self.loc = loc if loc is not None else (["inputs", field] if field else None)
        self.too_large = too_large
        super().__init__(f"{field}: {message}" if field else message)


@dataclass(frozen=True)
class Tensor:
    """One decoded input tensor: ``values`` is flat, in row-major order."""

    name: str
    datatype: str
    shape: Sequence[int]
    values: Sequence[Any]


def flatten(data: list[Any]) -> list[Any]:
    """JSON tensor data may be nested by rows; the protocol allows either form."""
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


def check_names(names: Sequence[str]) -> None:
    """Exactly one tensor per feature, and nothing else."""
    seen: set[str] = set()
    for name in names:
        if name not in ACCEPTED_TYPES:
            raise TensorError("unknown input; expected one tensor per feature", name)
        if name in seen:
            raise TensorError("input given more than once", name)
        seen.add(name)
    missing = [name for name in ACCEPTED_TYPES if name not in seen]
    if missing:
        raise TensorError("missing input tensor", missing[0])


def check_header(name: str, datatype: str, shape: Sequence[int]) -> int:
    """The datatype and shape of one input; its number of rows."""
    if datatype not in ACCEPTED_TYPES[name]:
        raise TensorError(f"datatype {datatype} not accepted (use {DECLARED_TYPE[name]})", name)
    if not 1 <= len(shape) <= 2 or (len(shape) == 2 and shape[1] != 1) or any(d < 0 for d in shape):
        raise TensorError(f"shape {list(shape)} must be [n] or [n, 1]", name)
    return shape[0]


def customers_from_tensors(tensors: Sequence[Tensor], limit: int) -> list[dict[str, Any]]:
    check_names([t.name for t in tensors])
    rows: int | None = None
    for tensor in tensors:
        n = check_header(tensor.name, tensor.datatype, tensor.shape)
        if len(tensor.values) != n:
            raise TensorError(
                f"shape {list(tensor.shape)} does not match {len(tensor.values)} values",
                tensor.name,
            )
        if rows is None:
            rows = n
        elif n != rows:
            raise TensorError(f"has {n} rows, other inputs have {rows}", tensor.name)
    if not rows:  # every feature is present, so rows was set; 0 rows is the client's error
        raise TensorError("inputs hold no rows", loc=["inputs"])
    if rows > limit:
        raise TensorError(f"{rows} rows; the limit is {limit}", loc=["inputs"], too_large=True)
    columns = [(t.name, t.values) for t in tensors]
    return [{name: values[i] for name, values in columns} for i in range(rows)]


def requested_outputs(names: Sequence[str] | None) -> list[str]:
    """The outputs to return: those asked for, else the probability alone."""
    wanted = list(names) if names else ["churn_probability"]
    for name in wanted:
        if name not in OUTPUT_TYPES:
            raise TensorError(
                f"unknown output {name!r}; have {', '.join(OUTPUT_TYPES)}", loc=["outputs"]
            )
    return wanted


def output_values(predictions: Sequence[Prediction], name: str) -> list[Any]:
    return [getattr(p, name) for p in predictions]


def invalid_values(exc: InvalidCustomerError) -> list[TensorError]:
    """A customer-field error per bad value, located at the input tensor and row it came from."""
    return [
        TensorError(e.message, f"{e.field}[{e.index}]", loc=["inputs", e.field, e.index])
        for e in exc.errors
    ]


def model_metadata(model_version: str) -> dict[str, Any]:
    """The model metadata both transports publish."""
    return {
        "name": MODEL_NAME,
        "versions": [model_version],
        "platform": "lightgbm",
        "inputs": [
            {"name": name, "datatype": DECLARED_TYPE[name], "shape": [-1]} for name in DECLARED_TYPE
        ],
        "outputs": [
            {"name": name, "datatype": datatype, "shape": [-1]}
            for name, datatype in OUTPUT_TYPES.items()
        ],
    }


def check_model(name: str, version: str | None, served_version: str | None) -> None:
    """LookupError (answered 404 / NOT_FOUND) unless ``name`` and ``version`` are ours. An
    empty or absent version means the one served; ``served_version`` None: not loaded yet."""
    if name != MODEL_NAME:
        raise LookupError(f"unknown model {name!r}; this server serves {MODEL_NAME!r}")
    if version and served_version is not None and version != served_version:
        raise LookupError(
            f"model {MODEL_NAME!r} has no version {version!r}; it serves version "
            f"{served_version!r} only"
        )
