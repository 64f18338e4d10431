"""The guarded protocol's transport: a response's head leaves with its body, and nothing else
is held (a streamed body still arrives chunk by chunk, on a real server)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("uvicorn")

import uvicorn

from churn_core.http_protocol import CoalescingTransport, configure
from churn_testing import free_port


class Recorder:
    """What the connection's real transport was asked to write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def test_a_head_waits_for_its_body_and_nothing_else_waits() -> None:
    recorder = Recorder()
    body_follows = [True]
    transport = CoalescingTransport(recorder, lambda: body_follows[0])  # type: ignore[arg-type]
    transport.write(b"head ")  # a body must follow: held
    assert recorder.writes == [] and transport.get_write_buffer_size() == 5
    transport.write(b"body")
    assert recorder.writes == [b"head body"]
    body_follows[0] = False
    transport.writelines([b"chunk;", b"chunk;"])  # no declared length: each leaves at once
    assert recorder.writes == [b"head body", b"chunk;", b"chunk;"]
    body_follows[0] = True
    transport.write(b"HEAD's head")
    transport.flush()  # at the response's completion (a HEAD request: no body comes)
    transport.write(b"refused")
    transport.close()  # what the 408/431 answers do: the answer leaves before the close
    assert recorder.writes[3:] == [b"HEAD's head", b"refused"] and recorder.closed
    assert transport.is_closing()
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)  # the transport's own


FIRST_CHUNK_ARRIVED = threading.Event()


async def streaming_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Sends its second chunk only once the client has the first: a held first chunk would
    leave the client waiting until its socket timeout."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first;", "more_body": True})
    while not FIRST_CHUNK_ARRIVED.is_set():
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"second;", "more_body": False})


@contextlib.contextmanager
def _requested(app: Any) -> Iterator[socket.socket]:
    """A real uvicorn server on the guarded protocol serving ``app``, and a client socket that
    has sent it one GET."""
    port = free_port()
    config = uvicorn.Config(app, port=port, http=configure(10.0, 65536, 30.0), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            yield client
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_streamed_body_is_not_held_back() -> None:
    with _requested(streaming_app) as client:
        received = b""
        while b"first;" not in received:  # a held chunk: socket.timeout after 10 s
            received += client.recv(65536)
        assert b"second;" not in received
        FIRST_CHUNK_ARRIVED.set()
        while b"second;" not in received:
            received += client.recv(65536)
    assert received.startswith(b"HTTP/1.1 200 OK")


BODY_RELEASED = threading.Event()


async def late_body_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Declares its length, then sends the body only when the test says so."""
    if scope["type"] != "http":
        return
    headers = [(b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    while not BODY_RELEASED.is_set():
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"done;"})


def test_a_head_with_a_declared_body_leaves_with_it() -> None:
    with _requested(late_body_app) as client:
        client.settimeout(0.5)
        with pytest.raises(TimeoutError):  # plain uvicorn sends the head at once
            client.recv(65536)
        BODY_RELEASED.set()
        client.settimeout(10)
        received = client.recv(65536)  # head and body in one segment: one write
    assert received.startswith(b"HTTP/1.1 200 OK") and received.endswith(b"done;")
