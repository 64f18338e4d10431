"""The ASGI fast path and the documented FastAPI routes answer every request identically."""

from __future__ import annotations

import json

import pytest

from serving_api.fastpath import parse_explain

from .conftest import CUSTOMER

REQUESTS = [
    ("/predict", "", json.dumps(CUSTOMER).encode()),
    ("/predict", "explain=true", json.dumps(CUSTOMER).encode()),
    ("/predict", "explain=0", json.dumps(CUSTOMER).encode()),
    ("/predict", "explain=maybe", json.dumps(CUSTOMER).encode()),
    ("/predict", "", json.dumps({**CUSTOMER, "Age": 12, "Gender": "X"}).encode()),
    ("/predict", "", json.dumps({**CUSTOMER, "Age": 40.0}).encode()),
    ("/predict", "", b"{oops"),
    ("/predict", "", b""),
    ("/predict", "", b"[]"),
    ("/predict/batch", "", json.dumps({"instances": [CUSTOMER] * 3}).encode()),
    ("/predict/batch", "explain=yes", json.dumps({"instances": [CUSTOMER] * 2}).encode()),
    ("/predict/batch", "", json.dumps({"instances": [CUSTOMER] * 4}).encode()),
    ("/predict/batch", "", json.dumps({"instances": []}).encode()),
    ("/predict/batch", "", json.dumps({"instances": [CUSTOMER, {"Age": 1}]}).encode()),
    ("/predict/batch", "", b'{"instances": 3}'),
]


@pytest.mark.parametrize("api_key", [None, "k3y"])
def test_same_answers(make_client, api_key: str | None) -> None:
    fast = make_client(fast_path=True, batch_limit=3, api_key=api_key)
    slow = make_client(fast_path=False, batch_limit=3, api_key=api_key)
    for headers in ({}, {"X-API-Key": "k3y"}, {"X-API-Key": "wrong"}):
        for path, query, body in REQUESTS:
            url = f"{path}?{query}" if query else path
            sent = {"content-type": "application/json", **headers}
            a = fast.post(url, content=body, headers=sent)
            b = slow.post(url, content=body, headers=sent)
            assert (a.status_code, a.json()) == (b.status_code, b.json()), (url, body, headers)
            assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")


def test_fast_path_metrics_use_the_route_template(make_client) -> None:
    client = make_client(fast_path=True)
    client.post("/predict", json=CUSTOMER)
    text = client.get("/metrics").text
    assert 'serving_requests_total{method="POST",route="/predict",status="200"} 1.0' in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [(b"", False), (b"explain=true", True), (b"explain=TRUE&x=1", True), (b"explain=off", False)],
)
def test_parse_explain(query: bytes, expected: bool) -> None:
    assert parse_explain(query) is expected
