"""Hostile bodies against the three servers: each is refused with a 4xx that says what is
wrong, never a 5xx, never an internal exception's name or a stack trace, and every server keeps
answering afterwards.

The JSON cases are parsed by the one strict parser all paths share (churn_core.jsonbody);
sizes are each path's own limit (serving-api 8 MiB, SageMaker 6 MB, Vertex 1.5 MiB).
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from churn_core import Predictor
from churn_core.samples import SAMPLE_CUSTOMERS

GOOD = dict(SAMPLE_CUSTOMERS[0])
INTERNALS = ("Traceback", "RecursionError", "Exception", 'File "', "orjson")


def _customer_json(customer: dict[str, Any]) -> bytes:
    return json.dumps(customer).encode()


def _with(field: str, literal: str) -> bytes:
    """GOOD's JSON with one field's value replaced by a literal no JSON encoder writes."""
    text = json.dumps({**GOOD, field: 0})
    return text.replace(f'"{field}": 0', f'"{field}": {literal}').encode()


# (id, body, expected status, a word the error message must contain)
HOSTILE = [
    ("deep-arrays", b"[" * 100_000 + b"]" * 100_000, 400, "JSON"),
    ("deep-objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400, "JSON"),
    ("overflowing-number", _with("Balance", "1e400"), 400, "JSON"),
    ("nan-literal", _with("Balance", "NaN"), 400, "JSON"),
    ("infinity-literal", _with("EstimatedSalary", "Infinity"), 400, "JSON"),
    ("negative-infinity", _with("EstimatedSalary", "-Infinity"), 400, "JSON"),
    ("byte-order-mark", b"\xef\xbb\xbf" + _customer_json(GOOD), 400, "JSON"),
    ("invalid-utf8", b'{"Geography": "Fr\xffnce"}', 400, "UTF-8"),
    ("empty", b"", 400, "empty"),
    ("whitespace", b"  \n ", 400, "empty"),
    ("truncated-json", _customer_json(GOOD)[:-7], 400, "JSON"),
    ("twenty-megabyte-string", b'{"Geography": "' + b"x" * 20_000_000 + b'"}', 413, ""),
]


@pytest.mark.parametrize(
    ("body", "status", "word"),
    [pytest.param(body, status, word, id=name) for name, body, status, word in HOSTILE],
)
def test_hostile_bodies_get_a_4xx_that_says_why_on_every_path(
    servers, client, body: bytes, status: int, word: str
) -> None:
    for path in servers:
        route, _ = path.path.single(GOOD)
        response = client.post(
            path.url + route, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == status, (path.name, response.status_code, response.text)
        assert word.lower() in response.text.lower(), (path.name, response.text)
        for internal in INTERNALS:
            assert internal not in response.text, (path.name, response.text)
        # Still serving.
        route, good = path.path.single(GOOD)
        assert client.post(path.url + route, json=good).status_code == 200, path.name


def test_duplicate_keys_take_the_last_value_on_every_path(servers, client, bundle_dir) -> None:
    """RFC 8259 leaves duplicate names to the parser; every path keeps the last, like Python."""
    last = {**GOOD, "Age": 61}
    body = json.dumps(GOOD)[:-1] + ', "Age": 61}'
    expected = Predictor.from_bundle(bundle_dir).predict([last])[0].churn_probability
    for path in servers:
        route, wrapped = path.path.single({"__BODY__": 1})
        raw = json.dumps(wrapped).replace('{"__BODY__": 1}', body)
        response = client.post(
            path.url + route, content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, (path.name, response.text)
        assert path.path.answer(response.json())["churn_probability"] == expected, path.name


def test_a_body_that_stops_early_is_not_a_server_error(servers, client) -> None:
    """Content-Length promises more than arrives, then the client closes its side: the server
    answers 4xx or closes the connection, and keeps serving others."""
    for path in servers:
        route, _ = path.path.single(GOOD)
        address = urlsplit(path.url)
        partial = _customer_json(GOOD)[:20]
        with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
            sock.sendall(
                f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(partial) + 100}\r\n\r\n".encode()
                + partial
            )
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        if answer:
            status = int(answer.split(b" ", 2)[1])
            assert 400 <= status < 500, (path.name, answer[:200])
        route, good = path.path.single(GOOD)
        assert client.post(path.url + route, json=good).status_code == 200, path.name
