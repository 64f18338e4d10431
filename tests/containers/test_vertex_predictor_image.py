"""The Vertex AI image: the CPR server with the bundle at AIP_STORAGE_URI (a local path here;
Vertex copies the model's artifact_uri to the container the same way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from .support import assert_lean_non_root, running, stop_with_sigterm

pytestmark = pytest.mark.docker


def test_health_predict_explain_refusal_and_sigterm(
    image, bundle_dir: Path, customers: list[dict[str, Any]], predictor
) -> None:
    env = {"AIP_STORAGE_URI": "/model"}
    volumes = [(bundle_dir, "/model", "ro")]
    with running(image("vertex-predictor"), 8080, "/health", volumes, env) as service:
        api = httpx.Client(base_url=service.url, timeout=30)

        answer = api.post("/predict", json={"instances": customers})
        assert answer.status_code == 200, answer.text
        expected = predictor.predict(customers)
        got = answer.json()["predictions"]
        assert [p["churn_probability"] for p in got] == pytest.approx(
            [e.churn_probability for e in expected], abs=1e-9
        )
        assert [p["risk_level"] for p in got] == [e.risk_level for e in expected]

        explained = api.post(
            "/predict", json={"instances": customers[:1], "parameters": {"explain": True}}
        ).json()["predictions"][0]
        total = explained["base_value"] + sum(explained["feature_contributions"].values())
        assert total == pytest.approx(explained["churn_probability"], abs=1e-6)

        bad = api.post("/predict", json={"instances": [{**customers[0], "Geography": "Mars"}]})
        assert bad.status_code == 400
        assert "Geography" in bad.text

        assert_lean_non_root(service)
        assert stop_with_sigterm(service) == 0, service.logs()[-3000:]
