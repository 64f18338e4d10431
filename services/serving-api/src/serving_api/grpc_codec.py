"""Open Inference Protocol gRPC messages ⇄ the transport-neutral tensors of ``v2_codec``.

Inputs come typed (``InferTensorContents``) or as ``raw_input_contents`` (what Triton's and
KServe's clients send); outputs go back the way the inputs came: raw when the request was raw,
typed otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from churn_core import Prediction
from serving_api import v2_binary
from serving_api.grpc_gen import open_inference_grpc_pb2 as pb
from serving_api.v2_codec import (
    OUTPUT_TYPES,
    Tensor,
    TensorError,
    check_header,
    check_names,
    output_values,
    requested_outputs,
)

CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def _typed_values(tensor: Any) -> list[Any]:
    field = CONTENTS_FIELD.get(tensor.datatype)
    if field is None:  # FP16 has no typed field: the protocol sends it raw only
        raise TensorError(f"datatype {tensor.datatype} needs raw_input_contents", tensor.name)
    values = list(getattr(tensor.contents, field))
    if tensor.datatype != "BYTES":
        return values
    try:
        return [value.decode("utf-8") for value in values]
    except UnicodeDecodeError:
        raise TensorError("a BYTES element is not UTF-8 text", tensor.name) from None


def request_tensors(request: Any) -> list[Tensor]:
    """The inputs of a ``ModelInferRequest``; TensorError naming the input at fault."""
    check_names([t.name for t in request.inputs])
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise TensorError(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs",
            loc=["raw_input_contents"],
        )
    tensors = []
    for i, tensor in enumerate(request.inputs):
        shape = list(tensor.shape)
        check_header(tensor.name, tensor.datatype, shape)
        if raw:
            values = v2_binary.decode(tensor.name, tensor.datatype, shape, raw[i])
        else:
            values = _typed_values(tensor)
        tensors.append(Tensor(tensor.name, tensor.datatype, shape, values))
    return tensors


def wanted_outputs(request: Any) -> list[str]:
    return requested_outputs([o.name for o in request.outputs] or None)


def infer_response(
    request: Any,
    wanted: list[str],
    predictions: Sequence[Prediction],
    model_name: str,
    model_version: str,
) -> Any:
    """The ``ModelInferResponse``: raw outputs for a raw request, typed ones otherwise."""
    response = pb.ModelInferResponse(
        model_name=model_name, model_version=model_version, id=request.id
    )
    raw = bool(request.raw_input_contents)
    for name in wanted:
        datatype = OUTPUT_TYPES[name]
        values = output_values(predictions, name)
        output = response.outputs.add(name=name, datatype=datatype, shape=[len(predictions)])
        if raw:
            response.raw_output_contents.append(v2_binary.encode(datatype, values))
        elif datatype == "BYTES":
            output.contents.bytes_contents.extend(v.encode("utf-8") for v in values)
        else:
            getattr(output.contents, CONTENTS_FIELD[datatype]).extend(values)
    return response


def model_metadata_response(metadata: dict[str, Any]) -> Any:
    tensor = pb.ModelMetadataResponse.TensorMetadata
    return pb.ModelMetadataResponse(
        name=metadata["name"],
        versions=metadata["versions"],
        platform=metadata["platform"],
        inputs=[tensor(**t) for t in metadata["inputs"]],
        outputs=[tensor(**t) for t in metadata["outputs"]],
    )
