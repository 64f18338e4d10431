"""The guarded protocol's transport: writes of one event-loop iteration leave as one write, and
nothing is held longer (a streamed body still arrives chunk by chunk, on a real server)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
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


def test_writes_of_one_iteration_leave_together_and_close_flushes_first() -> None:
    async def scenario() -> list[list[bytes]]:
        recorder = Recorder()
        transport = CoalescingTransport(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
        seen = []
        transport.write(b"head ")
        transport.write(b"body")
        assert transport.get_write_buffer_size() == 9
        seen.append(list(recorder.writes))  # nothing yet: the iteration is not over
        await asyncio.sleep(0)
        seen.append(list(recorder.writes))
        transport.writelines([b"ref", b"used"])  # same order, same single write
        transport.close()  # what the 408/431 answers do: the answer leaves before the close
        seen.append(list(recorder.writes))
        transport.write(b"after close")
        await asyncio.sleep(0)
        seen.append(list(recorder.writes))
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)  # the transport's own
        return seen

    assert asyncio.run(scenario()) == [
        [],
        [b"head body"],
        [b"head body", b"refused"],
        [b"head body", b"refused"],
    ]


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


def test_a_streamed_body_is_not_held_back() -> None:
    port = free_port()
    config = uvicorn.Config(
        streaming_app, port=port, http=configure(10.0, 65536, 30.0), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while b"first;" not in received:  # a held chunk: socket.timeout after 10 s
                received += client.recv(65536)
            assert b"second;" not in received
            FIRST_CHUNK_ARRIVED.set()
            while b"second;" not in received:
                received += client.recv(65536)
        assert received.startswith(b"HTTP/1.1 200 OK")
    finally:
        server.should_exit = True
        thread.join(10)
