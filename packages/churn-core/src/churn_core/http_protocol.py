"""uvicorn's httptools protocol with a deadline and a size limit for each request head.

uvicorn (0.54) times out idle keep-alive connections but not a request whose head never
completes: a client that connects and sends nothing, or trickles its headers a byte at a time,
holds its connection for ever, and a head of any size is buffered. This protocol answers such a
client 408 (head not complete within ``header_timeout`` seconds) or 431 (head larger than
``max_header_bytes``) and closes the connection. The body's deadline is the app's, and idle
keep-alives are uvicorn's ``timeout_keep_alive``.

Used by both HTTP servers on uvicorn, serving-api and `sagemaker-handler serve`, hence here;
it needs the ``http`` extra (uvicorn with httptools), which importing this module imports.

The limits are class attributes, set by ``configure`` in each process before it serves: the
CLI for one process, the app factory in each worker when there are several.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._start_head()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._start_head()  # the next request on a kept-alive connection
        super().data_received(data)
        if self._head_timer is not None:  # still no complete head after all of this data
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(431, f"request head larger than {self.max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        self._stop_head()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head()
        super().connection_lost(exc)

    def _start_head(self) -> None:
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _stop_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        self._refuse(408, f"request head not received within {self.header_timeout:g} s")

    def _refuse(self, status: int, message: str) -> None:
        self._stop_head()
        if self.transport.is_closing():
            return
        body = json.dumps({"detail": message}).encode()
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, REASONS[status], len(body))
        )
        self.transport.write(head + body)
        self.transport.close()


def configure(header_timeout: float, max_header_bytes: int) -> type[GuardedHttpToolsProtocol]:
    """Set this process's limits; returns the class to give uvicorn as ``http``."""
    GuardedHttpToolsProtocol.header_timeout = header_timeout
    GuardedHttpToolsProtocol.max_header_bytes = max_header_bytes
    return GuardedHttpToolsProtocol
