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
from collections.abc import Callable, Iterable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
HEAD, BODY = "head", "body"


class CoalescingTransport:
    """A connection's transport that sends a response's head together with its body.

    uvicorn writes a response's head when the app sends ``http.response.start`` and its body at
    the next message: two system calls, and two wake-ups of a client waiting for the answer.
    Under load on this 2-core VM each wake-up of a sleeping client cost the server ~5 µs of
    kernel time (perf: ``sock_def_readable`` → ``try_to_wake_up``), a tenth of a ``/predict``.
    So a head is held when a body must follow it (``body_follows``: the response declared a
    content-length above zero) and leaves with the first body write, or when the response
    completes (a HEAD request), the connection closes or ``flush`` is called. Everything else
    leaves at once: a chunked stream chunk by chunk, a 100-continue, a refusal. An app that
    declares a length and then waits before its first body chunk delays its head as long.
    """

    __slots__ = ("_body_follows", "_held", "_transport")

    def __init__(self, transport: asyncio.Transport, body_follows: Callable[[], bool]) -> None:
        self._transport = transport
        self._body_follows = body_follows
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif self._body_follows():
            self._held = data
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:  # every response asks (uvicorn): not through __getattr__
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._transport.get_write_buffer_size() + (0 if held is None else len(held))

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
        coalescing = CoalescingTransport(transport, self._body_follows)
        super().connection_made(coalescing)  # type: ignore[arg-type]
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
        # A head still held (a HEAD request's) leaves now, with nothing after it.
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()

    def _body_follows(self) -> bool:
        """The current response declared body bytes not yet written (uvicorn's own count),
        so a held head cannot wait long. ``cycle`` is the newest request's: while an earlier
        pipelined response is still being written this is False and its writes go at once."""
        cycle = self.cycle
        return (
            cycle is not None
            and cycle.chunked_encoding is False
            and cycle.expected_content_length > 0
            and not cycle.response_complete
        )

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
