"""The SageMaker container contract over HTTP: uvicorn (uvloop + httptools) serving handler.py.

GET /ping is 503 until model_fn has run, then 200; POST /invocations (and sagemaker-runtime's
/endpoints/<name>/invocations) is input_fn → predict_fn → output_fn. The handler calls are
CPU-bound, so they run on a bounded thread pool and the event loop stays free to answer /ping
during a long batch. uvicorn bounds the connections (``limit_concurrency``: above it a request is
answered 503 at once instead of queueing without end) and drains in-flight requests on SIGTERM;
churn_core.http_protocol closes connections whose request head or body does not arrive in time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from churn_core import jsonbody
from churn_core.http_protocol import configure as guarded_http
from sagemaker_handler.handler import HandlerState, model_dir_from

log = logging.getLogger("sagemaker_handler.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint limit


@dataclass(frozen=True)
class Limits:
    """What one `serve` process accepts. The defaults are the BYOC image's."""

    # uvicorn's limit_concurrency: open connections (the one being served included) and
    # requests in progress; at it, uvicorn answers 503 straight away instead of queueing. 128
    # is far more than one process's CPU serves at once: it bounds memory and waiting, not speed.
    max_connections: int = 128
    # Threads running handler calls: the CPU-bound part, so about one per core.
    threads: int = max(1, min(8, os.cpu_count() or 1))
    # Idle keep-alive connections are closed after this. Long, so that this server is seldom the
    # side closing a connection SageMaker's front end is about to reuse (that race fails the
    # invocation); 75 s is nginx's default keepalive_timeout.
    keep_alive_seconds: float = 75.0
    # A request head must arrive within this and fit in max_header_bytes (408/431 and the
    # connection closed otherwise): a stalled client does not hold a place under the limit.
    header_seconds: float = 10.0
    max_header_bytes: int = 64 * 1024
    # A body must arrive within this (408 otherwise); 6 MiB takes well under a second on a VPC.
    body_seconds: float = 30.0
    # SIGTERM: stop accepting, finish in-flight requests for at most this, then exit. SageMaker
    # does not document its grace before SIGKILL; 25 s stays under ECS's default 30 s, and an
    # invocation cannot outlast SageMaker's 60 s anyway.
    graceful_shutdown_seconds: float = 25.0


def _is_invocation(path: str) -> bool:
    # /endpoints/<name>/invocations is sagemaker-runtime's path: `test` can run against this
    # server through boto3 with --endpoint-url.
    parts = path.strip("/").split("/")
    return path == "/invocations" or (
        len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations"
    )


async def _respond(
    send: Send, status: int, body: bytes = b"", content_type: str = "", close: bool = False
) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type:
        headers.append((b"content-type", content_type.encode("latin-1")))
    if close:  # uvicorn closes the connection after a response that says so
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, message: str, close: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    await _respond(send, status, body, "application/json", close)


# A body this small (a few customers: a JSON customer is ~250 bytes, a CSV row ~60) is answered
# on the event loop, within a few milliseconds even explained, where the hop to a worker thread
# and back cost about as much as one prediction. Larger bodies (batches) go to the threads so
# /ping keeps answering meanwhile.
INLINE_BODY_BYTES = 1024


def create_app(state: HandlerState, executor: ThreadPoolExecutor, limits: Limits) -> App:
    """The contract as a plain ASGI app: two routes do not need a framework."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "GET":
            if path != "/ping":
                return await _error(send, 404, "not found")
            if state.ready.is_set():
                return await _respond(send, 200)
            return await _error(send, 503, state.failed or "model is loading")
        if method != "POST":
            return await _error(send, 405, "method not allowed")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_PAYLOAD_BYTES:
            return await _error(send, 413, "payload over 6 MB", close=True)
        if not _is_invocation(path):
            return await _error(send, 404, "not found")
        if not state.ready.is_set():
            return await _error(send, 503, "model is loading")
        try:  # a chunked body has no Content-Length: its size is counted while it is read
            body = await jsonbody.read_asgi_body(receive, None, MAX_PAYLOAD_BYTES)
        except jsonbody.RequestBodyTooLarge:
            return await _error(send, 413, "payload over 6 MB", close=True)
        except jsonbody.ClientDisconnected:
            return None
        if len(body) <= INLINE_BODY_BYTES:
            status, data, content_type = state.invoke(body, headers)
        else:
            loop = asyncio.get_running_loop()
            status, data, content_type = await loop.run_in_executor(
                executor, state.invoke, body, headers
            )
        await _respond(send, status, data, content_type)

    return app


def make_server(
    state: HandlerState, executor: ThreadPoolExecutor, limits: Limits
) -> uvicorn.Server:
    """A uvicorn server for ``state``; run it with ``server.run(sockets=[bound_socket])``."""
    config = uvicorn.Config(
        create_app(state, executor, limits),
        loop="uvloop",
        http=guarded_http(limits.header_seconds, limits.max_header_bytes, limits.body_seconds),
        lifespan="off",
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=int(limits.keep_alive_seconds),
        timeout_graceful_shutdown=int(limits.graceful_shutdown_seconds),
        server_header=False,
        access_log=False,
        log_config=None,  # the CLI's logging.basicConfig
    )
    return uvicorn.Server(config)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the model loads so /ping can answer 503 meanwhile."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(model: str | Path, host: str, port: int, limits: Limits | None = None) -> int:
    """Bind first (so /ping can say 503 while loading), load, serve until SIGTERM/SIGINT.

    A model that fails to load (missing, tampered, not signed by a trusted key) does not stop the
    server: /ping keeps answering 503 with the reason, which is what SageMaker's health check and
    an operator see."""
    limits = limits or Limits()
    state = HandlerState()
    sock = bind(host, port)
    log.info("listening on %s:%d", *sock.getsockname()[:2])
    # uvicorn re-raises the signal that stopped it once it has drained, under the handler that
    # was there before it. A no-op handler makes that a clean exit 0, as SageMaker expects.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)

    with (
        tempfile.TemporaryDirectory(prefix="sagemaker-model-") as workdir,
        ThreadPoolExecutor(limits.threads, thread_name_prefix="handler") as executor,
    ):

        def load() -> None:
            try:
                state.load(model_dir_from(model, workdir), freeze_heap=True)
            except Exception as exc:
                # Stay up: /ping answers 503 with a reason safe to publish; the log has detail.
                state.failed = getattr(exc, "public_reason", None) or "model failed to load"
                print(f"model failed to load: {type(exc).__name__}: {exc}", file=sys.stderr)

        threading.Thread(target=load, name="model-loader", daemon=True).start()
        make_server(state, executor, limits).run(sockets=[sock])
    return 0
