"""Open Inference Protocol (V2) requests built with tritonclient's own classes, for the
serving-api tests and the benchmark. ``client`` is ``tritonclient.http`` or
``tritonclient.grpc`` (passed in: tritonclient is a dev dependency of the workspace, not of
this package)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from churn_core.schema import FEATURES

# The datatype serving-api declares for each feature (its model metadata says the same).
NUMPY_TYPES = {"category": np.object_, "int": np.int64, "float": np.float64}
OUTPUTS = ("churn_probability", "churn_prediction", "risk_level")


def triton_inputs(
    client: ModuleType, customers: Sequence[Mapping[str, Any]], binary: bool = True
) -> list[Any]:
    """One ``InferInput`` per feature holding the customers' values; ``binary`` selects the
    binary tensor data extension over HTTP (gRPC clients always send raw bytes)."""
    inputs = []
    for spec in FEATURES:
        values = [c[spec.name] for c in customers]
        if spec.kind == "category":
            array = np.array([v.encode() for v in values], dtype=np.object_)
            datatype = "BYTES"
        else:
            array = np.array(values, dtype=NUMPY_TYPES[spec.kind])
            datatype = "INT64" if spec.kind == "int" else "FP64"
        tensor = client.InferInput(spec.name, [len(customers)], datatype)
        if client.__name__.endswith("http"):
            tensor.set_data_from_numpy(array, binary_data=binary)
        else:
            tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


def triton_outputs(client: ModuleType, binary: bool = True) -> list[Any]:
    """Every output serving-api has, asked for in binary or JSON form (HTTP)."""
    if client.__name__.endswith("http"):
        return [client.InferRequestedOutput(name, binary_data=binary) for name in OUTPUTS]
    return [client.InferRequestedOutput(name) for name in OUTPUTS]
