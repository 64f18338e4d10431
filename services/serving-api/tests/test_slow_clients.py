"""Stalled and slow clients against a real serving-api process: each is cut off by an explicit
limit (head deadline and size, body deadline, keep-alive), and while dozens of them hold
connections the service keeps answering everybody else."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from churn_testing import ServerProcess

from .conftest import CUSTOMER, start_server

LIMITS = {
    "SERVING_HEADER_TIMEOUT_SECONDS": "1",
    "SERVING_BODY_TIMEOUT_SECONDS": "1",
    "SERVING_KEEP_ALIVE_SECONDS": "1",
    "SERVING_MAX_HEADER_BYTES": "8192",
}
BODY = json.dumps(CUSTOMER).encode()


@pytest.fixture(scope="module")
def server(bundle_dir) -> Iterator[ServerProcess]:
    process = start_server("--model-dir", str(bundle_dir), "--no-capture", env=LIMITS)
    process.wait_ready(120)
    yield process
    process.stop()


def connect(server: ServerProcess) -> socket.socket:
    address = urlsplit(server.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    return sock


def answer(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of the response, read until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def request_head(length: int) -> bytes:
    return (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % length
    )


def test_a_silent_connection_gets_408(server: ServerProcess) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        status, body = answer(sock)
    assert status == 408
    assert "request head" in json.loads(body)["detail"]
    assert 0.9 < time.monotonic() - started < 8


def test_a_trickled_head_gets_408(server: ServerProcess) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        for byte in request_head(len(BODY))[:40]:
            try:
                sock.send(bytes([byte]))
            except OSError:  # the server has answered and closed
                break
            time.sleep(0.1)  # ten bytes a second: 1 s is not enough for the head
        status, _ = answer(sock)
    assert status == 408
    assert time.monotonic() - started < 8


def test_an_oversized_head_gets_431(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)
        status, body = answer(sock)
    assert status == 431
    assert "8192" in json.loads(body)["detail"]


@pytest.mark.parametrize("fast_path", ["/predict", "/v2/models/churn/infer"])
def test_a_trickled_body_gets_408(server: ServerProcess, fast_path: str) -> None:
    with connect(server) as sock:
        sock.sendall(request_head(len(BODY)).replace(b"/predict", fast_path.encode()))
        sock.sendall(BODY[:10])  # and the rest never comes
        started = time.monotonic()
        status, body = answer(sock)
    assert status == 408
    assert json.loads(body)["detail"] == "request body not received within 1 s"
    assert time.monotonic() - started < 8


def test_an_idle_keep_alive_is_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(request_head(len(BODY)) + BODY)
        time.sleep(0.5)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the server, without a second request
    assert time.monotonic() - started < 8


def test_stalled_clients_do_not_stop_the_others(server: ServerProcess) -> None:
    stalled = [connect(server) for _ in range(50)]
    try:
        for i, sock in enumerate(stalled):  # a third silent, a third mid-head, a third mid-body
            if i % 3 == 1:
                sock.sendall(request_head(len(BODY))[:30])
            elif i % 3 == 2:
                sock.sendall(request_head(len(BODY)) + BODY[:5])
        with httpx.Client(base_url=server.url, timeout=5) as client:
            for _ in range(100):
                assert client.post("/predict", json=CUSTOMER).status_code == 200
        for sock in stalled:  # and every stalled one is cut off by a limit
            assert answer(sock)[0] == 408
    finally:
        for sock in stalled:
            sock.close()
