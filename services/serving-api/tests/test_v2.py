"""Open Inference Protocol (V2) routes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from churn_core import Predictor
from serving_api.routes.v2 import DECLARED_TYPE

from .conftest import CUSTOMER


def infer_body(customers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": name,
                "datatype": DECLARED_TYPE[name],
                "shape": [len(customers)],
                "data": [c[name] for c in customers],
            }
            for name in DECLARED_TYPE
        ],
        **extra,
    }


def test_health_and_metadata(client: TestClient, predictor: Predictor) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/churn/ready").json() == {"ready": True}
    assert client.get("/v2").json()["name"] == "serving-api"
    meta = client.get("/v2/models/churn").json()
    assert meta["name"] == "churn"
    assert meta["versions"] == [predictor.model_version]
    inputs = {i["name"]: i["datatype"] for i in meta["inputs"]}
    assert inputs["Geography"] == inputs["Gender"] == "BYTES"
    assert inputs["Age"] == "INT64" and inputs["Balance"] == "FP64"
    assert meta["outputs"][0] == {"name": "churn_probability", "datatype": "FP64", "shape": [-1]}


def test_infer_matches_the_v1_route(client: TestClient) -> None:
    customers = [CUSTOMER, {**CUSTOMER, "Geography": "Spain", "Age": 30}]
    response = client.post("/v2/models/churn/infer", json=infer_body(customers, id="req-1"))
    assert response.status_code == 200
    body = response.json()
    assert body["model_name"] == "churn" and body["id"] == "req-1"
    [output] = body["outputs"]
    assert output["name"] == "churn_probability"
    assert output["datatype"] == "FP64" and output["shape"] == [2]
    v1 = client.post("/predict/batch", json={"instances": customers}).json()["predictions"]
    assert output["data"] == [p["churn_probability"] for p in v1]


def test_infer_extra_outputs_and_nested_data(client: TestClient) -> None:
    body = infer_body([CUSTOMER], outputs=[{"name": "risk_level"}, {"name": "churn_prediction"}])
    for tensor in body["inputs"]:
        tensor["shape"] = [1, 1]
        tensor["data"] = [tensor["data"]]
    outputs = client.post("/v2/models/churn/infer", json=body).json()["outputs"]
    assert [o["name"] for o in outputs] == ["risk_level", "churn_prediction"]
    assert outputs[0]["datatype"] == "BYTES" and outputs[0]["data"][0] in ("LOW", "MEDIUM", "HIGH")


def _without(body: dict, name: str) -> dict:
    return {**body, "inputs": [t for t in body["inputs"] if t["name"] != name]}


def _with(body: dict, name: str, **changes: Any) -> dict:
    return {
        **body,
        "inputs": [{**t, **changes} if t["name"] == name else t for t in body["inputs"]],
    }


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: _without(b, "Age"), "Age"),
        (lambda b: _with(b, "Geography", datatype="INT64"), "Geography"),
        (lambda b: _with(b, "Age", datatype="FP32", data=[40.5]), "Age"),
        (lambda b: _with(b, "Tenure", shape=[2]), "Tenure"),
        (lambda b: _with(b, "Gender", data=["Robot"]), "Gender"),
        (
            lambda b: {**b, "inputs": [*b["inputs"], {**b["inputs"][0], "name": "Surname"}]},
            "Surname",
        ),
        (lambda b: {**b, "inputs": [*b["inputs"], b["inputs"][0]]}, "CreditScore"),
    ],
)
def test_infer_errors_name_the_input(client: TestClient, mutate, field: str) -> None:
    response = client.post("/v2/models/churn/infer", json=mutate(infer_body([CUSTOMER])))
    assert response.status_code == 400
    body = response.json()
    assert field in body["error"]
    assert body["detail"][0]["loc"][:3] == ["body", "inputs", field]


def test_infer_limits_and_bad_requests(client: TestClient) -> None:
    too_many = infer_body([CUSTOMER] * 1001)
    assert client.post("/v2/models/churn/infer", json=too_many).status_code == 413
    assert client.post("/v2/models/churn/infer", json={"inputs": []}).status_code == 400
    assert client.post("/v2/models/churn/infer", content=b"{").status_code == 400
    unknown_output = infer_body([CUSTOMER], outputs=[{"name": "nope"}])
    assert client.post("/v2/models/churn/infer", json=unknown_output).status_code == 400


def test_versioned_routes_serve_the_bundle_version(
    client: TestClient, predictor: Predictor
) -> None:
    base = f"/v2/models/churn/versions/{predictor.model_version}"
    assert client.get(f"{base}/ready").json() == {"ready": True}
    assert client.get(base).json()["versions"] == [predictor.model_version]
    response = client.post(f"{base}/infer", json=infer_body([CUSTOMER]))
    assert response.status_code == 200
    assert response.json()["model_version"] == predictor.model_version
    unversioned = client.post("/v2/models/churn/infer", json=infer_body([CUSTOMER])).json()
    assert response.json()["outputs"] == unversioned["outputs"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/models/churn/versions/0/ready"),
        ("GET", "/v2/models/churn/versions/0"),
        ("POST", "/v2/models/churn/versions/0/infer"),
    ],
)
def test_another_version_is_not_found(
    client: TestClient, predictor: Predictor, method: str, path: str
) -> None:
    response = client.request(method, path, json=infer_body([CUSTOMER]))
    assert response.status_code == 404
    error = response.json()["error"]
    assert "'0'" in error and predictor.model_version in error


@pytest.mark.parametrize(
    "path", ["/v2/models/iris", "/v2/models/iris/ready", "/v2/models/iris/versions/1/infer"]
)
def test_unknown_model_is_an_error_object(client: TestClient, path: str) -> None:
    response = client.request("POST" if path.endswith("infer") else "GET", path)
    assert response.status_code == 404
    assert response.json() == {"error": "unknown model 'iris'; this server serves 'churn'"}


def test_server_metadata_with_and_without_slash(client: TestClient) -> None:
    for path in ("/v2", "/v2/"):
        body = client.get(path).json()
        assert body["name"] == "serving-api" and "binary_tensor_data" in body["extensions"]


def test_errors_are_error_objects(client: TestClient) -> None:
    bad_shape = _with(infer_body([CUSTOMER]), "Age", shape=[1, 2])
    response = client.post("/v2/models/churn/infer", json=bad_shape)
    assert response.status_code == 400
    assert response.json()["error"] == "Age: shape [1, 2] must be [n] or [n, 1]"
    value = client.post(
        "/v2/models/churn/infer", json=_with(infer_body([CUSTOMER]), "Age", data=[5])
    )
    assert value.status_code == 400 and value.json()["error"].startswith("Age[0]: ")
    not_a_tensor = client.post("/v2/models/churn/infer", json={"inputs": [{"name": "Age"}]})
    assert not_a_tensor.status_code == 400 and "inputs.0" in not_a_tensor.json()["error"]
