"""The binary tensor data extension over REST, with bodies made by tritonclient's own encoder
(``generate_request_body``) and responses read by its own decoder (``parse_response_body``)."""

from __future__ import annotations

import struct
from typing import Any

import pytest
import tritonclient.http as triton_http
from fastapi.testclient import TestClient

from churn_testing.v2 import triton_inputs, triton_outputs

from .conftest import CUSTOMER

INFER = "/v2/models/churn/infer"
CUSTOMERS = [CUSTOMER, {**CUSTOMER, "Geography": "Spain", "Age": 30, "Balance": 0.0}]
Client = triton_http.InferenceServerClient


def post(client: TestClient, body: bytes, header_length: int | None) -> Any:
    headers = (
        {} if header_length is None else {"Inference-Header-Content-Length": str(header_length)}
    )
    return client.post(INFER, content=body, headers=headers)


def parse(response: Any) -> Any:
    assert response.status_code == 200, response.text
    length = response.headers.get("inference-header-content-length")
    return Client.parse_response_body(
        response.content, header_length=None if length is None else int(length)
    )


def v1_probabilities(client: TestClient) -> list[float]:
    body = client.post("/predict/batch", json={"instances": CUSTOMERS}).json()
    return [p["churn_probability"] for p in body["predictions"]]


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False])
def test_binary_and_json_tensors_equal_predict(
    client: TestClient, binary_in: bool, binary_out: bool
) -> None:
    body, length = Client.generate_request_body(
        triton_inputs(triton_http, CUSTOMERS, binary=binary_in),
        outputs=triton_outputs(triton_http, binary=binary_out),
    )
    response = post(client, body, length)
    assert ("inference-header-content-length" in response.headers) == binary_out
    result = parse(response)
    v1 = client.post("/predict/batch", json={"instances": CUSTOMERS}).json()["predictions"]
    assert result.as_numpy("churn_probability").tolist() == [p["churn_probability"] for p in v1]
    assert result.as_numpy("churn_prediction").tolist() == [p["churn_prediction"] for p in v1]
    levels = [r.decode() if isinstance(r, bytes) else r for r in result.as_numpy("risk_level")]
    assert levels == [p["risk_level"] for p in v1]


def test_default_outputs_come_back_binary(client: TestClient) -> None:
    """tritonclient asks for no output by name and sets ``binary_data_output``."""
    body, length = Client.generate_request_body(triton_inputs(triton_http, CUSTOMERS))
    response = post(client, body, length)
    assert response.headers["content-type"] == "application/octet-stream"
    header = response.content[: int(response.headers["inference-header-content-length"])]
    assert b'"binary_data_size":16' in header
    assert parse(response).as_numpy("churn_probability").tolist() == v1_probabilities(client)


def _binary_body() -> tuple[bytes, int]:
    body, length = Client.generate_request_body(triton_inputs(triton_http, [CUSTOMER]))
    return body, length


def test_binary_without_the_header_says_why(client: TestClient) -> None:
    body, _ = _binary_body()
    response = post(client, body, None)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "no Inference-Header-Content-Length header" in error and "UTF-8" not in error


def _replace_input(body: bytes, length: int, name: str, raw: bytes) -> tuple[bytes, int]:
    """The body with input ``name``'s binary bytes replaced (and its size updated)."""
    import json

    header = json.loads(body[:length])
    binary = body[length:]
    chunks, offset = {}, 0
    for item in header["inputs"]:
        size = item["parameters"]["binary_data_size"]
        chunks[item["name"]] = binary[offset : offset + size]
        offset += size
        if item["name"] == name:
            item["parameters"]["binary_data_size"] = len(raw)
    chunks[name] = raw
    new_header = json.dumps(header).encode()
    return new_header + b"".join(chunks[i["name"]] for i in header["inputs"]), len(new_header)


@pytest.mark.parametrize(
    ("name", "raw", "words"),
    [
        ("Age", b"\x01\x02\x03", "3 bytes of binary data do not hold shape [1] of INT64"),
        ("Gender", struct.pack("<I", 2) + b"\xff\xfe", "not UTF-8"),
        ("Gender", struct.pack("<I", 9) + b"Male", "longer than the data left"),
        ("Age", struct.pack("<q", 5), "Age[0]: "),
    ],
)
def test_bad_binary_tensors_name_the_input(
    client: TestClient, name: str, raw: bytes, words: str
) -> None:
    body, length = _replace_input(*_binary_body(), name, raw)
    response = post(client, body, length)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith(name) and words in error


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda b, n: (b + b"extra", n), "5 bytes of binary data beyond"),
        (lambda b, n: (b[:-4], n), "runs past the end of the body"),
        (lambda b, n: (b, len(b) + 1), "must be a byte count"),
        (lambda b, n: (b, "x12"), "must be a byte count"),
    ],
)
def test_bad_binary_framing_says_why(client: TestClient, change: Any, words: str) -> None:
    body, length = change(*_binary_body())
    response = client.post(
        INFER, content=body, headers={"Inference-Header-Content-Length": str(length)}
    )
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_compressed_bodies_are_refused_plainly(client: TestClient) -> None:
    import gzip

    body, length = _binary_body()
    response = client.post(
        INFER,
        content=gzip.compress(body),
        headers={"Inference-Header-Content-Length": str(length), "Content-Encoding": "gzip"},
    )
    assert response.status_code == 415
    assert "Content-Encoding" in response.json()["error"]


def test_media_types_of_infer(client: TestClient) -> None:
    """JSON, or octet-stream when the binary extension's header says where the JSON ends."""
    body, length = _binary_body()
    binary = {"Inference-Header-Content-Length": str(length)}
    octet = {"Content-Type": "application/octet-stream"}
    assert client.post(INFER, content=body, headers={**binary, **octet}).status_code == 200
    json_only = body[:length]
    refused = client.post(INFER, content=json_only, headers=octet)
    assert refused.status_code == 415
    assert "application/json" in refused.json()["error"]
    plain = client.post(INFER, content=json_only, headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
