"""The standard Open Inference Protocol clients against a real `serving-api --grpc-port` on
loopback: tritonclient over HTTP (JSON and binary tensors) and over gRPC, and a plain gRPC stub
(tritonclient's generated `inference.GRPCInferenceService`, sending typed contents rather than
raw bytes). Every answer is held against POST /predict of the same server, to the last bit.

kserve's clients are tested in test_v2_kserve_clients.py, in a virtual environment of their own
(kserve 0.21 cannot join this workspace's lock). serving-api's own stubs are not imported here:
they and tritonclient's both register the `inference` protobuf package, which one process cannot
hold twice.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc
from tritonclient.utils import InferenceServerException

from churn_testing import free_port
from churn_testing.v2 import triton_inputs, triton_outputs

from .conftest import CUSTOMER, CUSTOMERS, KEY, Served, serve, start_server, v1, wait_failed


def _http(served: Served) -> triton_http.InferenceServerClient:
    return triton_http.InferenceServerClient(served.url.removeprefix("http://"))


def _grpc(served: Served) -> triton_grpc.InferenceServerClient:
    return triton_grpc.InferenceServerClient(served.grpc_address)


def _levels(array: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in array.tolist()]


def _check(result: Any, expected: list[dict[str, Any]]) -> None:
    assert result.as_numpy("churn_probability").tolist() == [
        e["churn_probability"] for e in expected
    ]
    assert result.as_numpy("churn_prediction").tolist() == [e["churn_prediction"] for e in expected]
    assert _levels(result.as_numpy("risk_level")) == [e["risk_level"] for e in expected]


@pytest.mark.parametrize("transport", ["http-json", "http-binary", "grpc"])
def test_health_and_metadata(served: Served, transport: str) -> None:
    client = _grpc(served) if transport == "grpc" else _http(served)
    version = httpx.get(f"{served.url}/readyz").json()["model_version"]
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("churn") and client.is_model_ready("churn", version)
    as_json: dict[str, Any] = {"as_json": True} if transport == "grpc" else {}
    metadata = client.get_model_metadata("churn", **as_json)
    assert metadata["name"] == "churn" and metadata["versions"] == [version]
    names = {t["name"]: t["datatype"] for t in metadata["inputs"]}
    assert names["Geography"] == "BYTES" and names["Age"] == "INT64"
    server = client.get_server_metadata(**as_json)
    assert server["name"] == "serving-api"
    if transport != "grpc":
        assert "binary_tensor_data" in server["extensions"]


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("transport", ["http-json", "http-binary", "grpc"])
def test_infer_equals_predict(served: Served, transport: str, rows: int) -> None:
    customers = CUSTOMERS[:rows]
    if transport == "grpc":
        client: Any = _grpc(served)
        result = client.infer(
            "churn", triton_inputs(triton_grpc, customers), outputs=triton_outputs(triton_grpc)
        )
    else:
        binary = transport == "http-binary"
        client = _http(served)
        result = client.infer(
            "churn",
            triton_inputs(triton_http, customers, binary=binary),
            outputs=triton_outputs(triton_http, binary=binary),
        )
    _check(result, v1(served, customers))


def test_tritonclient_defaults_binary_outputs(served: Served) -> None:
    """No outputs named: tritonclient asks for binary outputs; the probability comes back."""
    result = _http(served).infer("churn", triton_inputs(triton_http, CUSTOMERS))
    expected = [e["churn_probability"] for e in v1(served, CUSTOMERS)]
    assert result.as_numpy("churn_probability").tolist() == expected


def _typed_request(customers: list[dict[str, Any]], **changes: Any) -> Any:
    """A ModelInferRequest with typed contents (no raw bytes), as a hand-written client sends."""
    request = pb.ModelInferRequest(model_name="churn", id="typed-1")
    for name in CUSTOMER:
        values = [c[name] for c in customers]
        tensor = request.inputs.add(name=name, shape=[len(customers)])
        if isinstance(values[0], str):
            tensor.datatype = "BYTES"
            tensor.contents.bytes_contents.extend(v.encode() for v in values)
        elif isinstance(values[0], float):
            tensor.datatype = "FP64"
            tensor.contents.fp64_contents.extend(values)
        else:
            tensor.datatype = "INT64"
            tensor.contents.int64_contents.extend(values)
        for key, value in changes.get(name, {}).items():
            if key == "shape":
                tensor.shape[:] = value
            else:
                setattr(tensor, key, value)
    for output in ("churn_probability", "churn_prediction", "risk_level"):
        request.outputs.add(name=output)
    return request


def test_plain_grpc_stub_with_typed_contents(served: Served) -> None:
    with grpc.insecure_channel(served.grpc_address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ServerLive(pb.ServerLiveRequest()).live
        response = stub.ModelInfer(_typed_request(CUSTOMERS))
    assert response.id == "typed-1" and not response.raw_output_contents
    expected = v1(served, CUSTOMERS)
    probability, prediction, risk = response.outputs
    assert list(probability.contents.fp64_contents) == [e["churn_probability"] for e in expected]
    assert list(prediction.contents.int64_contents) == [e["churn_prediction"] for e in expected]
    assert [v.decode() for v in risk.contents.bytes_contents] == [e["risk_level"] for e in expected]


@pytest.mark.parametrize(
    ("customer", "field"),
    [({**CUSTOMER, "Age": 5}, "Age[0]"), ({**CUSTOMER, "Geography": "Mars"}, "Geography[0]")],
)
@pytest.mark.parametrize("transport", ["http-binary", "grpc"])
def test_bad_values_name_the_field(
    served: Served, transport: str, customer: dict[str, Any], field: str
) -> None:
    module: Any = triton_grpc if transport == "grpc" else triton_http
    client = _grpc(served) if transport == "grpc" else _http(served)
    with pytest.raises(InferenceServerException) as raised:
        client.infer("churn", triton_inputs(module, [customer]))
    if transport == "grpc":
        assert raised.value.status() == "StatusCode.INVALID_ARGUMENT"
    else:
        assert raised.value.status() == "400"
    assert field in raised.value.message()


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"Age": {"datatype": "FP32"}}, "Age: datatype FP32 not accepted"),
        ({"Tenure": {"shape": [2]}}, "Tenure: shape [2] does not match 1 values"),
        ({"Balance": {"name": "Surname"}}, "Surname: unknown input"),
    ],
)
def test_bad_grpc_tensors_are_invalid_argument(
    served: Served, changes: dict[str, Any], words: str
) -> None:
    with grpc.insecure_channel(served.grpc_address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.ModelInfer(_typed_request([CUSTOMER], **changes))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in raised.value.details()


def test_unknown_model_and_version_are_not_found(served: Served) -> None:
    client = _grpc(served)
    for call in (
        lambda: client.get_model_metadata("iris"),
        lambda: client.infer("churn", triton_inputs(triton_grpc, [CUSTOMER]), model_version="0"),
    ):
        with pytest.raises(InferenceServerException) as raised:
            call()
        assert raised.value.status() == "StatusCode.NOT_FOUND"


def test_grpc_calls_are_counted_in_metrics(served: Served) -> None:
    _grpc(served).infer("churn", triton_inputs(triton_grpc, [CUSTOMER]))
    metrics = httpx.get(f"{served.url}/metrics").text
    assert (
        'serving_requests_total{method="GRPC",route="/inference.GRPCInferenceService/ModelInfer",'
        'status="200"}' in metrics
    )


def test_api_key_guards_both_transports(tmp_path: Path, bundle_dir: Path) -> None:
    s = serve(tmp_path, bundle_dir, env={"SERVING_API_KEY": KEY})
    try:
        grpc_client, http_client = _grpc(s), _http(s)
        assert grpc_client.is_server_live() and http_client.is_server_ready()  # open
        for client in (grpc_client, http_client):
            module: Any = triton_grpc if client is grpc_client else triton_http
            with pytest.raises(InferenceServerException) as raised:
                client.infer("churn", triton_inputs(module, [CUSTOMER]))
            assert raised.value.status() in ("StatusCode.UNAUTHENTICATED", "401")
            with pytest.raises(InferenceServerException):
                client.infer(
                    "churn", triton_inputs(module, [CUSTOMER]), headers={"x-api-key": "no"}
                )
            result = client.infer(
                "churn", triton_inputs(module, [CUSTOMER]), headers={"x-api-key": KEY}
            )
            assert result.as_numpy("churn_probability").shape == (1,)
    finally:
        s.server.stop()


def test_sigterm_loses_no_accepted_grpc_prediction(tmp_path: Path, bundle_dir: Path) -> None:
    """Calls keep coming while SIGTERM arrives: every call answered OK is in the capture files
    after the process exits, and nothing else is."""
    s = serve(tmp_path, bundle_dir)
    client = _grpc(s)
    for i in range(20):
        client.infer("churn", triton_inputs(triton_grpc, [{**CUSTOMER, "Age": 20 + i}]))
    answered = []
    started = threading.Event()

    def keep_calling() -> None:
        caller = _grpc(s)
        while True:
            try:
                result = caller.infer("churn", triton_inputs(triton_grpc, [CUSTOMER] * 50))
            except InferenceServerException:
                return  # the server stopped taking calls
            answered.append(result.as_numpy("churn_probability").shape[0])
            started.set()

    thread = threading.Thread(target=keep_calling)
    thread.start()
    assert started.wait(30)
    code = s.server.stop()
    thread.join(60)
    assert code in (0, -15), s.server.output()
    records = []
    for path in sorted(s.capture.glob("*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    assert len(records) == 20 + sum(answered)
    assert {r["features"]["Age"] for r in records[:20]} == {20 + i for i in range(20)}


def test_a_server_without_a_model_is_unavailable_over_grpc(tmp_path: Path) -> None:
    """A missing bundle keeps the server up and unready: gRPC says so (never INTERNAL)."""
    grpc_port = free_port()
    server = start_server(
        "--model-dir", str(tmp_path / "no-bundle"), "--no-capture", "--grpc-port", str(grpc_port)
    )  # fmt: skip
    try:
        wait_failed(server)
        client = triton_grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        assert client.is_server_live() and not client.is_server_ready()
        assert not client.is_model_ready("churn")
        for call in (
            lambda: client.get_model_metadata("churn"),
            lambda: client.infer("churn", triton_inputs(triton_grpc, [CUSTOMER])),
        ):
            with pytest.raises(InferenceServerException) as raised:
                call()
            assert raised.value.status() == "StatusCode.UNAVAILABLE"
            assert raised.value.message() == "model is not ready"
    finally:
        server.stop()
