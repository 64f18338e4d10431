"""Properties over any valid customer, through the HTTP routes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn_core.schema import RISK_THRESHOLDS
from churn_testing.strategies import customers_strategy

COMMON = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _expected_level(probability: float) -> str:
    for upper, level in RISK_THRESHOLDS:
        if probability < upper:
            return level
    return "HIGH"


@COMMON
@given(customer=customers_strategy())
def test_probability_and_risk_level(client: TestClient, customer: dict[str, Any]) -> None:
    body = client.post("/predict", json=customer).json()
    assert 0.0 <= body["churn_probability"] <= 1.0
    assert body["risk_level"] == _expected_level(body["churn_probability"])
    threshold = client.app.state.service.predictor.threshold  # type: ignore[attr-defined]
    assert body["churn_prediction"] == int(body["churn_probability"] >= threshold)


@settings(COMMON, max_examples=25)
@given(customers=st.lists(customers_strategy(), min_size=1, max_size=20))
def test_batch_equals_singles(client: TestClient, customers: list[dict[str, Any]]) -> None:
    batch = client.post("/predict/batch", json={"instances": customers}).json()["predictions"]
    singles = [client.post("/predict", json=c).json() for c in customers]
    assert batch == singles


@settings(COMMON, max_examples=30)
@given(customer=customers_strategy())
def test_explanations_add_up(client: TestClient, customer: dict[str, Any]) -> None:
    body = client.post("/predict", params={"explain": "true"}, json=customer).json()
    assert set(body["feature_contributions"]) == set(customer)
    total = body["base_value"] + sum(body["feature_contributions"].values())
    assert abs(total - body["churn_probability"]) <= 1e-6
    plain = client.post("/predict", json=customer).json()
    assert plain["churn_probability"] == body["churn_probability"]
