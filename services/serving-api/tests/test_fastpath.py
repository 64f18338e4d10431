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
    # bodies the one-pass reader (churn_core.json_customer) reads or leaves to the general path
    ("/predict", "", json.dumps({**CUSTOMER, "Surname": "x"}).encode()),
    ("/predict", "", json.dumps({**CUSTOMER, "Balance": 0}).encode()),
    ("/predict", "", b"\xef\xbb\xbf" + json.dumps(CUSTOMER).encode()),
    ("/predict", "", json.dumps(CUSTOMER).encode().replace(b'"Female"', b'"Fe\xff"')),
    ("/predict", "", json.dumps(CUSTOMER).encode()[:-1] + b', "Age": 30}'),
    ("/predict", "", json.dumps(CUSTOMER).encode()[:-1] + b', "Balance": NaN}'),
    ("/predict", "", json.dumps(CUSTOMER).encode() + b" x"),
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
            sent = {"content-type": "application/json", "x-request-id": "r-1", **headers}
            a = fast.post(url, content=body, headers=sent)
            b = slow.post(url, content=body, headers=sent)
            assert (a.status_code, a.json()) == (b.status_code, b.json()), (url, body, headers)
            for name in ("www-authenticate", "retry-after", "content-type", "x-request-id"):
                assert a.headers.get(name) == b.headers.get(name), (url, name)


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


CONTENT_TYPES = [
    ("application/json", 200),
    ("application/json; charset=utf-8", 200),
    ("Application/JSON; charset=UTF-8", 200),
    (None, 200),  # no Content-Type: read as JSON (documented in docs/serving-api.md)
    ("text/plain", 415),
    ("application/x-www-form-urlencoded", 415),  # what `curl -d` sends without -H
    ("application/json; charset=latin-1", 415),
    ("application/octet-stream", 415),
]


@pytest.mark.parametrize(("content_type", "status"), CONTENT_TYPES)
@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_media_types_on_both_paths(make_client, path, content_type, status) -> None:
    body = CUSTOMER if path == "/predict" else {"instances": [CUSTOMER]}
    headers = {"content-type": content_type} if content_type else {}
    if content_type is None:
        assert (
            "content-type" not in make_client().build_request("POST", path, content=b"{}").headers
        )
    answers = []
    for fast_path in (True, False):
        client = make_client(fast_path=fast_path)
        response = client.post(path, content=json.dumps(body), headers=headers)
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == status, answers[0]
    if status == 415:
        assert "application/json" in answers[0][1]["detail"] or "UTF-8" in answers[0][1]["detail"]
