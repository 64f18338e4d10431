"""The contract, over HTTP, against the real aiplatform CprModelServer in a subprocess."""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path

import pytest

import churn_core
from churn_core.samples import SAMPLE_CUSTOMERS
from vertex_predictor.server import server_environment

from .cpr_process import CprServer, start_server

pytestmark = pytest.mark.slow

FEATURES = list(churn_core.FEATURE_NAMES)


def test_health(cpr_server: CprServer) -> None:
    assert cpr_server.get("/health") == (200, b"{}")


def test_predict(cpr_server: CprServer, bundle_dir: Path) -> None:
    status, body = cpr_server.post("/predict", {"instances": SAMPLE_CUSTOMERS})
    assert status == 200
    direct = churn_core.Predictor.from_bundle(bundle_dir).predict(SAMPLE_CUSTOMERS)
    assert len(body["predictions"]) == len(SAMPLE_CUSTOMERS)
    for served, expected in zip(body["predictions"], direct, strict=True):
        assert abs(served["churn_probability"] - expected.churn_probability) <= 1e-9
        assert served == expected.model_dump(exclude_none=True) | {
            "churn_probability": served["churn_probability"]
        }


def test_explain(cpr_server: CprServer) -> None:
    status, body = cpr_server.post(
        "/predict", {"instances": SAMPLE_CUSTOMERS, "parameters": {"explain": True}}
    )
    assert status == 200
    for p in body["predictions"]:
        assert set(p["feature_contributions"]) == set(FEATURES)
        total = p["base_value"] + sum(p["feature_contributions"].values())
        assert abs(total - p["churn_probability"]) <= 1e-6


def test_bad_instance_is_400_naming_the_field(cpr_server: CprServer) -> None:
    bad = {**SAMPLE_CUSTOMERS[0], "Geography": "Atlantis", "Age": "42"}
    status, body = cpr_server.post("/predict", {"instances": [SAMPLE_CUSTOMERS[1], bad]})
    assert status == 400
    errors = body["detail"]["errors"]
    assert {(e["index"], e["field"]) for e in errors} == {(1, "Geography"), (1, "Age")}
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize(
    ("payload", "content_type", "status", "needle"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b'{"instances": []}', "application/json", 400, "instances"),
        (b'{"instances": [1]}', "application/json", 400, "(customer)"),
        (b"CreditScore,Geography", "text/csv", 415, "application/json"),
    ],
)
def test_bad_requests_are_client_errors(
    cpr_server: CprServer, payload: bytes, content_type: str, status: int, needle: str
) -> None:
    got_status, body = cpr_server.post("/predict", payload, content_type=content_type)
    assert got_status == status
    assert needle in json.dumps(body)
    assert "Traceback" not in json.dumps(body)


def test_custom_routes_and_gcs_bundle(gcs_bundle_uri: str, bundle_dir: Path) -> None:
    """Vertex's AIP_* settings, with the bundle read from gs:// through the storage emulator."""
    server = start_server(
        [],
        env={
            "AIP_STORAGE_URI": gcs_bundle_uri,
            "AIP_HEALTH_ROUTE": "/v1/healthz",
            "AIP_PREDICT_ROUTE": "/v1/models/churn:predict",
        },
    )
    try:
        assert server.get("/v1/healthz")[0] == 200
        assert server.get("/health")[0] == 404
        status, body = server.post("/v1/models/churn:predict", {"instances": SAMPLE_CUSTOMERS})
        assert status == 200
        direct = churn_core.Predictor.from_bundle(bundle_dir).predict(SAMPLE_CUSTOMERS)
        assert [p["churn_probability"] for p in body["predictions"]] == [
            d.churn_probability for d in direct
        ]
    finally:
        server.stop()


def test_tampered_bundle_never_becomes_healthy(bundle_dir: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(bundle_dir, tmp_path / "bundle"))
    with (copy / "model.txt").open("a") as model_file:
        model_file.write("\n")
    server = start_server(["--model-dir", str(copy)], timeout=300, healthy=False)
    try:
        assert server.get("/health") == (
            503,
            b'{"status":"failed","reason":"model bundle missing or invalid"}',
        )
        status, _ = server.post("/predict", {"instances": SAMPLE_CUSTOMERS})
        assert status == 503
        assert "checksum mismatch for model.txt" in server.output()
    finally:
        server.stop()


def test_environment_precedence() -> None:
    env = server_environment(
        {"AIP_STORAGE_URI": "gs://b/m", "AIP_HTTP_PORT": "9000", "AIP_HEALTH_ROUTE": "/hc"}
    )
    assert env["AIP_STORAGE_URI"] == "gs://b/m"
    assert env["AIP_HTTP_PORT"] == "9000"
    assert env["AIP_HEALTH_ROUTE"] == "/hc"
    assert env["AIP_PREDICT_ROUTE"] == "/predict"
    assert env["HANDLER_CLASS"] == "ChurnHandler"
    explicit = server_environment({"AIP_STORAGE_URI": "gs://b/m"}, model_dir="/m", port=8081)
    assert (explicit["AIP_STORAGE_URI"], explicit["AIP_HTTP_PORT"]) == ("/m", "8081")
    with pytest.raises(ValueError, match="AIP_STORAGE_URI"):
        server_environment({})


def test_cold_start_and_latency_figures(cpr_server: CprServer) -> None:
    """Records the figures the README quotes (printed with -s); bounds are only sanity."""
    body = {"instances": SAMPLE_CUSTOMERS[:1]}
    timings = []
    for _ in range(200):
        started = time.perf_counter()
        status, _ = cpr_server.post("/predict", body)
        timings.append(time.perf_counter() - started)
        assert status == 200
    p50 = statistics.median(timings) * 1000
    p99 = statistics.quantiles(timings, n=100)[98] * 1000
    print(
        f"\ncold start {cpr_server.ready_seconds:.2f} s; "
        f"one instance p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    assert cpr_server.ready_seconds < 60
    assert p50 < 100
