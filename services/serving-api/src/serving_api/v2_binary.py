"""Raw tensor bytes (the binary tensor data extension over REST, ``raw_*_contents`` over gRPC).

The layout is the one KServe and Triton specify: elements in row-major order, little-endian,
fixed-size types packed; each BYTES element is a 4-byte little-endian length then its bytes.
Over REST the body is the JSON inference header (``Inference-Header-Content-Length`` bytes),
then each binary tensor in the order of the header's inputs or outputs.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from serving_api.v2_codec import TensorError

HEADER = "inference-header-content-length"
EXTENSION = "binary_tensor_data"
NUMPY_TYPES = {
    "BOOL": "?",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
_LENGTH = struct.Struct("<I")


def decode(name: str, datatype: str, shape: Sequence[int], raw: bytes) -> list[Any]:
    """The flat values of one raw tensor; TensorError naming ``name`` when the bytes do not
    fit the datatype and shape."""
    count = math.prod(shape) if all(d >= 0 for d in shape) else -1
    if datatype == "BYTES":
        return _decode_bytes(name, raw, count)
    dtype = NUMPY_TYPES.get(datatype)
    if dtype is None:
        raise TensorError(f"datatype {datatype} is not a tensor datatype", name)
    size = np.dtype(dtype).itemsize
    if count < 0 or len(raw) != count * size:
        raise TensorError(
            f"{len(raw)} bytes of binary data do not hold shape {list(shape)} of {datatype} "
            f"({size} bytes each)",
            name,
        )
    return np.frombuffer(raw, dtype=dtype).tolist()


def _decode_bytes(name: str, raw: bytes, count: int) -> list[Any]:
    values: list[Any] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise TensorError("BYTES data ends inside an element's 4-byte length", name)
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise TensorError("BYTES element longer than the data left", name)
        try:
            values.append(raw[offset : offset + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise TensorError(f"BYTES element {len(values)} is not UTF-8 text", name) from None
        offset += length
    if len(values) != count:
        raise TensorError(f"binary data hold {len(values)} BYTES elements, shape {count}", name)
    return values


def encode(datatype: str, values: Sequence[Any]) -> bytes:
    if datatype == "BYTES":
        parts = []
        for value in values:
            data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            parts += [_LENGTH.pack(len(data)), data]
        return b"".join(parts)
    return np.asarray(values, dtype=NUMPY_TYPES[datatype]).tobytes()


def split_body(body: bytes, header_length: str) -> tuple[bytes, memoryview]:
    """The JSON header and the binary part of a body sent with the extension's header."""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise TensorError(
            f"Inference-Header-Content-Length {header_length!r} must be a byte count no larger "
            f"than the body ({len(body)} bytes)",
            loc=["header", "Inference-Header-Content-Length"],
        )
    n = int(header_length)
    return body[:n], memoryview(body)[n:]


def take(binary: memoryview, offset: int, size: Any, name: str) -> bytes:
    """``size`` bytes of the binary part from ``offset``, for input ``name``."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise TensorError("parameters.binary_data_size must be a non-negative integer", name)
    if offset + size > len(binary):
        raise TensorError(
            f"binary_data_size {size} runs past the end of the body "
            f"({len(binary) - offset} bytes left)",
            name,
        )
    return bytes(binary[offset : offset + size])
