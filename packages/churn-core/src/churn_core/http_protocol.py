"""uvicorn's httptools protocol with deadlines for each request's head and body, and a size
limit for the head.

uvicorn (0.54) times out idle keep-alive connections but not a request that never completes: a
client that connects and sends nothing, trickles its headers a byte at a time, or stops half-way
through its body holds its connection for ever, and a head of any size is buffered. This
protocol answers such a client 408 (head not complete within ``header_timeout`` seconds, or
body within ``body_timeout`` after the head) or 431 (head larger than ``max_header_bytes``) and
closes the connection. Idle keep-alives stay uvicorn's ``timeout_keep_alive``.

The deadlines cost the hot path nothing but a clock read: each connection has one timer that
looks at them a few times a second (``check_seconds``), instead of a timer armed and cancelled
for every request (measured: that cost /predict about 10 % of its requests per second at 8
connections).

Its transport also sends a response's head and body in one write (``CoalescingTransport``).

Used by both HTTP servers on uvicorn, serving-api and `sagemaker-handler serve`, hence here;
it needs the ``http`` extra (uvicorn with httptools), which importing this module imports.
The limits are class attributes, set by ``configure`` in each process before it serves: the
CLI for one process, the app factory in each worker when there are several.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
HEAD, BODY = "head", "body"


class CoalescingTransport:
    """A connection's transport whose writes made in one event-loop iteration leave in one
    ``write`` at the end of it.

    uvicorn writes a response's head when the app sends ``http.response.start`` and its body at
    the next message: two system calls, and two wake-ups of a client waiting for the answer.
    Under load on this 2-core VM each wake-up of a sleeping client cost the server ~5 µs of
    kernel time (perf: ``sock_def_readable`` → ``try_to_wake_up``), a tenth of a ``/predict``.
    Every write is held only until the loop finishes its current callbacks (``call_soon``), so
    streamed bodies still leave chunk by chunk and nothing waits for more data; the protocol
    flushes as soon as a response is complete.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        held = self._held
        if not held:
            return
        self._held = []
        if not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> object:  # everything else is the transport's own
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024

    @classmethod
    def check_seconds(cls) -> float:
        """How often a connection's deadlines are looked at: a quarter of the shorter one, at
        most a second (a deadline is enforced at most this late)."""
        return min(1.0, min(cls.header_timeout, cls.body_timeout) / 4)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._phase: str | None = None
        self._deadline = 0.0
        self._head_bytes = 0
        self._start(HEAD)
        self._checker: asyncio.TimerHandle | None = self.loop.call_later(
            self.check_seconds(), self._check
        )

    def data_received(self, data: bytes) -> None:
        if self._phase is None and (self.cycle is None or self.cycle.response_complete):
            self._start(HEAD)  # the next request on a kept-alive connection
        super().data_received(data)
        if self._phase == HEAD:  # still no complete head after all of this data
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(431, f"request head larger than {self.max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        self._start(BODY)  # ends at on_message_complete: at once for a request without a body
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # The whole response is written: it leaves now, before the rest of the request's task
        # (the app's bookkeeping after its last send, uvicorn's own) runs.
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = None
        if self._checker is not None:
            self._checker.cancel()
            self._checker = None
        super().connection_lost(exc)

    def _start(self, phase: str) -> None:
        self._phase = phase
        timeout = self.header_timeout if phase == HEAD else self.body_timeout
        self._deadline = self.loop.time() + timeout
        self._head_bytes = 0

    def _check(self) -> None:
        self._checker = None
        if self.transport.is_closing():
            return
        if self._phase is not None and self.loop.time() > self._deadline:
            timeout = self.header_timeout if self._phase == HEAD else self.body_timeout
            self._refuse(408, f"request {self._phase} not received within {timeout:g} s")
            return
        self._checker = self.loop.call_later(self.check_seconds(), self._check)

    def _refuse(self, status: int, message: str) -> None:
        self._phase = None
        if self.transport.is_closing():
            return
        body = json.dumps({"detail": message}).encode()
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, REASONS[status], len(body))
        )
        self.transport.write(head + body)
        self.transport.close()


def configure(
    header_timeout: float, max_header_bytes: int, body_timeout: float
) -> type[GuardedHttpToolsProtocol]:
    """Set this process's limits; returns the class to give uvicorn as ``http``."""
    GuardedHttpToolsProtocol.header_timeout = header_timeout
    GuardedHttpToolsProtocol.max_header_bytes = max_header_bytes
    GuardedHttpToolsProtocol.body_timeout = body_timeout
    return GuardedHttpToolsProtocol
