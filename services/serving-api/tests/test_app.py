"""HTTP behaviour through the ASGI app (TestClient): routes, errors, auth, metrics, readiness."""

from __future__ import annotations

import hashlib
import json
import logging
import threading

import pytest
from fastapi.testclient import TestClient

from churn_core import Predictor
from serving_api.app import create_app
from serving_api.config import Settings

from .conftest import CUSTOMER


def test_health_ready_and_model(client: TestClient, predictor: Predictor, bundle_dir) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["model_version"] == predictor.model_version
    manifest = client.get("/v1/model").json()
    assert manifest["model_version"] == predictor.model_version
    assert manifest["files"] == predictor.manifest["files"]
    # One digest names the live bundle: the sha256 of its manifest, which pins every file.
    digest = "sha256:" + hashlib.sha256((bundle_dir / "manifest.json").read_bytes()).hexdigest()
    assert manifest["bundle_digest"] == digest
    v2 = client.get("/v2/models/churn").json()
    assert v2["parameters"]["bundle_digest"] == digest


def test_predict_one_customer(client: TestClient, predictor: Predictor) -> None:
    response = client.post("/predict", json=CUSTOMER)
    assert response.status_code == 200
    body = response.json()
    expected = predictor.predict([CUSTOMER])[0]
    assert body == {
        "churn_probability": pytest.approx(expected.churn_probability, abs=1e-12),
        "churn_prediction": expected.churn_prediction,
        "risk_level": expected.risk_level,
        "model_version": predictor.model_version,
    }


def test_predict_explain_adds_up(client: TestClient) -> None:
    body = client.post("/predict", params={"explain": "true"}, json=CUSTOMER).json()
    assert set(body["feature_contributions"]) == set(CUSTOMER)
    total = body["base_value"] + sum(body["feature_contributions"].values())
    assert total == pytest.approx(body["churn_probability"], abs=1e-6)


def test_batch(client: TestClient, predictor: Predictor) -> None:
    customers = [CUSTOMER, {**CUSTOMER, "Age": 25, "IsActiveMember": 1}]
    response = client.post("/predict/batch", json={"instances": customers})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == predictor.model_version
    assert [p["churn_probability"] for p in body["predictions"]] == [
        pytest.approx(p.churn_probability, abs=1e-12) for p in predictor.predict(customers)
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"CreditScore": "650"}, "CreditScore"),
        ({"Age": 17}, "Age"),
        ({"Geography": "Mars"}, "Geography"),
        ({"HasCrCard": True}, "HasCrCard"),
        ({"Balance": -1.0}, "Balance"),
        ({"Tenure": 3.5}, "Tenure"),
    ],
)
def test_bad_field_is_named(client: TestClient, change: dict, field: str) -> None:
    response = client.post("/predict", json={**CUSTOMER, **change})
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["loc"] == ["body", field]


def test_integral_floats_are_json_integers(client: TestClient, predictor: Predictor) -> None:
    # JSON (and JSON Schema) has one number type: 40.0 is the integer 40; 40.5 is not.
    as_float = client.post("/predict", json={**CUSTOMER, "Age": 47.0, "Tenure": 3.0})
    assert as_float.status_code == 200
    assert as_float.json() == client.post("/predict", json=CUSTOMER).json()


def test_missing_fields_are_all_named(client: TestClient) -> None:
    partial = {k: v for k, v in CUSTOMER.items() if k not in ("Age", "Gender")}
    errors = client.post("/predict", json=partial).json()["detail"]
    assert sorted(e["field"] for e in errors) == ["Age", "Gender"]


def test_batch_errors_name_index_and_field(client: TestClient) -> None:
    instances = [CUSTOMER, {**CUSTOMER, "NumOfProducts": 9}]
    response = client.post("/predict/batch", json={"instances": instances})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "instances", 1, "NumOfProducts"]


@pytest.mark.parametrize(
    ("path", "content", "status"),
    [
        ("/predict", b"{not json", 400),
        ("/predict", b"", 400),
        ("/predict", b"[1, 2]", 422),
        ("/predict", b'"text"', 422),
        ("/predict/batch", b'{"instances": []}', 422),
        ("/predict/batch", b'{"instances": {"a": 1}}', 422),
        ("/predict/batch", b"[]", 422),
        ("/predict/batch", b'{"instances": [1]}', 422),
        ("/predict", b'{"Balance": 1e999}', 400),  # out of float range: not JSON we accept
    ],
)
def test_malformed_bodies(client: TestClient, path: str, content: bytes, status: int) -> None:
    response = client.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert "Traceback" not in response.text


def test_batch_over_the_limit_is_413(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"instances": [CUSTOMER] * 1001})
    assert response.status_code == 413
    assert "1000" in response.json()["detail"]


def test_body_over_the_size_limit_is_413(make_client) -> None:
    client = make_client(max_body_bytes=2048)
    response = client.post("/predict/batch", json={"instances": [CUSTOMER] * 20})
    assert response.status_code == 413


def test_batch_limit_is_configurable(make_client) -> None:
    client = make_client(batch_limit=2)
    assert client.post("/predict/batch", json={"instances": [CUSTOMER] * 2}).status_code == 200
    assert client.post("/predict/batch", json={"instances": [CUSTOMER] * 3}).status_code == 413
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict/batch"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["properties"]["instances"]["maxItems"] == 2


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.post("/predict", json=CUSTOMER, headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    for hostile in ("a b", "x" * 129, "a\tb"):
        response = client.get("/healthz", headers={"X-Request-ID": hostile})
        assert len(response.headers["x-request-id"]) == 32


def test_api_key(make_client) -> None:
    client = make_client(api_key="s3cret")
    assert client.post("/predict", json=CUSTOMER).status_code == 401
    wrong = client.post("/predict", json=CUSTOMER, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401
    assert "s3cret" not in wrong.text
    ok = client.post("/predict", json=CUSTOMER, headers={"X-API-Key": "s3cret"})
    assert ok.status_code == 200
    for path in ("/predict/batch", "/v1/model", "/v2/models/churn"):
        assert (
            client.request(
                "POST" if "batch" in path else "GET", path, json={"instances": [CUSTOMER]}
            ).status_code
            == 401
        )
    for path in ("/healthz", "/readyz", "/metrics", "/v2/health/ready", "/v2/health/live"):
        assert client.get(path).status_code == 200, path
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"


def test_metrics(client: TestClient) -> None:
    client.post("/predict", json=CUSTOMER)
    client.post("/predict", params={"explain": "true"}, json=CUSTOMER)
    client.post("/predict/batch", json={"instances": [CUSTOMER] * 3})
    client.post("/predict", json={"Age": 5})
    client.get("/no-such-route")
    text = client.get("/metrics").text
    assert 'serving_requests_total{method="POST",route="/predict",status="200"} 2.0' in text
    assert 'serving_requests_total{method="POST",route="/predict",status="422"} 1.0' in text
    assert 'serving_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'serving_request_duration_seconds_count{route="/predict/batch"} 1.0' in text
    levels = [line for line in text.splitlines() if line.startswith("serving_predictions_total{")]
    assert sum(float(line.split()[-1]) for line in levels) == 5
    assert "serving_churn_probability_count 5.0" in text
    assert "serving_explain_duration_seconds_count 1.0" in text
    assert "serving_model_info{model_version=" in text
    assert 'signed="false"' in text  # the shared test bundle is loaded without trusted keys
    assert "serving_model_ready 1.0" in text
    assert "serving_capture_queue_depth" in text
    assert "serving_capture_dropped_total 0.0" in text


def test_readiness_waits_for_load_and_warm_up(settings: Settings, predictor: Predictor) -> None:
    release = threading.Event()
    calls: list[int] = []

    class CountingPredictor:
        warm_up = Predictor.warm_up  # churn-core's warm-up, counted through predict()

        def __init__(self) -> None:
            self.model_version = predictor.model_version
            self.manifest = predictor.manifest
            self.signature = predictor.signature
            self.describe = predictor.describe
            self.single_row, self.tables = predictor.single_row, predictor.tables

        def predict(self, customers, explain=False):
            calls.append(len(customers))
            return predictor.predict(customers, explain=explain)

        def predict_one(self, customer, explain=False):
            calls.append(1)
            return predictor.predict_one(customer, explain=explain)

        def predict_row(self, row):
            calls.append(1)
            return predictor.predict_row(row)

    def slow_loader() -> CountingPredictor:
        release.wait(30)
        return CountingPredictor()

    app = create_app(settings, loader=slow_loader)  # type: ignore[arg-type]
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        assert client.get("/v2/health/ready").status_code == 503
        assert client.post("/predict", json=CUSTOMER).status_code == 503
        release.set()
        assert app.state.service.wait_ready(30)
        assert calls, "warm-up predictions ran before ready"
        assert client.get("/readyz").status_code == 200
        assert client.post("/predict", json=CUSTOMER).status_code == 200


def test_failed_load_stays_unready_without_leaking_the_reason(settings: Settings) -> None:
    def broken_loader():
        raise RuntimeError("secret internal path /srv/x")

    app = create_app(settings, loader=broken_loader)
    with TestClient(app) as client:
        app.state.service.wait_ready(30)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "failed"}


def test_unexpected_error_is_500_with_only_the_request_id(
    settings: Settings, predictor: Predictor, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, predictor=predictor)
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.service.wait_ready(30)
        app.state.service.predictor = None  # any bug on the hot path
        with caplog.at_level(logging.ERROR, logger="serving_api"):
            response = client.post("/predict", json=CUSTOMER, headers={"X-Request-ID": "r-42"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error", "request_id": "r-42"}
    assert response.headers["x-request-id"] == "r-42"
    assert any(r.exc_info for r in caplog.records)


def test_json_log_lines_carry_the_request_id() -> None:
    from serving_api.logging import JsonFormatter, request_id_var

    token = request_id_var.set("rid-7")
    try:
        record = logging.LogRecord("serving_api.x", logging.INFO, "", 0, "hello %s", ("you",), None)
        record.route = "/predict"
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello you"
    assert line["request_id"] == "rid-7"
    assert line["route"] == "/predict"
    assert line["level"] == "INFO"


def test_openapi_publishes_the_request_schema_from_churn_core(client: TestClient) -> None:
    from churn_core.schema import FEATURE_NAMES

    schema = client.get("/openapi.json").json()
    customer = schema["components"]["schemas"]["Customer"]
    assert set(customer["required"]) == set(FEATURE_NAMES)
    assert customer["properties"]["Age"]["minimum"] == 18
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Customer"}
    assert "/v2/models/churn/infer" in schema["paths"]


def test_capture_keeps_request_ids_on_worker_threads(
    settings: Settings, predictor: Predictor
) -> None:
    app = create_app(settings, predictor=predictor)
    with TestClient(app) as client:
        app.state.service.wait_ready(30)
        client.post("/predict?explain=true", json=CUSTOMER, headers={"X-Request-ID": "explained"})
        big = {"instances": [CUSTOMER] * 40}  # over INLINE_ROWS: runs in the thread pool
        client.post("/predict/batch", json=big, headers={"X-Request-ID": "big-batch"})
    records = [
        json.loads(line)
        for path in sorted(settings.capture_dir.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert [r["request_id"] for r in records] == ["explained"] + ["big-batch"] * 40


def test_the_single_row_path_is_compiled_once_ready(settings: Settings, bundle_dir) -> None:
    predictor = Predictor.from_bundle(bundle_dir)  # its own: the session's may be compiled
    app = create_app(settings, predictor=predictor)
    with TestClient(app) as client:
        assert app.state.service.wait_ready(120)  # the loader thread ends after compiling
        assert predictor.single_row.engine == "compiled"
        answer = client.post("/predict", json=CUSTOMER)
        assert answer.status_code == 200
        assert answer.json() == predictor.predict([CUSTOMER])[0].model_dump()
