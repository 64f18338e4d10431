"""The SageMaker inference container contract, locally and as the BYOC image's entrypoint.

Like the AWS container: the tarball is extracted to a model directory, ``code/inference.py`` is
imported from that directory by file path, model_fn runs once (/ping answers 503 until it has),
then each POST /invocations is input_fn → predict_fn → output_fn. So this runs the same file, from
the same tarball, that SageMaker will run.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from sagemaker_handler.packaging import CODE_DIR, extract_tarball, inference_source

log = logging.getLogger("sagemaker_handler.server")

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint limit
HANDLER_FUNCTIONS = ("model_fn", "input_fn", "predict_fn", "output_fn")


def model_dir_from(path: str | Path, workdir: str | Path) -> Path:
    """A directory as is (BYOC: SageMaker already extracted /opt/ml/model); a tarball extracted."""
    path = Path(path)
    if path.is_dir():
        return path
    if not path.is_file():
        raise FileNotFoundError(f"model not found: {path}")
    return extract_tarball(path, Path(workdir) / "model")


def import_inference(model_dir: Path) -> ModuleType:
    script = model_dir / CODE_DIR / "inference.py"
    if not script.is_file():
        raise FileNotFoundError(f"{script} is missing: package the model with `package`")
    spec = importlib.util.spec_from_file_location("inference", script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as a real import would; dataclasses look themselves up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    missing = [name for name in HANDLER_FUNCTIONS if not callable(getattr(module, name, None))]
    if missing:
        raise ImportError(f"{script} does not define {', '.join(missing)}")
    return module


class _RequestProcessor:
    def __init__(self, headers: dict[str, str]):
        self._headers = headers

    def get_request_properties(self) -> dict[str, str]:
        return self._headers


class RequestContext:
    """The slice of the inference toolkit's Context that handler functions may read."""

    def __init__(self, headers: dict[str, str]):
        self.request_processor = [_RequestProcessor(headers)]


def _call(fn: Any, *args: Any, context: RequestContext) -> Any:
    # As the toolkit does: pass the context only to functions that take one more argument.
    takes = len(inspect.signature(fn).parameters)
    return fn(*args, context) if takes == len(args) + 1 else fn(*args)


def refuse_foreign_code(model_dir: Path) -> None:
    """Under a trust policy, run only this image's inference.py.

    model.sig covers the bundle, not ``code/``: whoever can rewrite the tarball could replace
    the verifier itself. With trusted keys configured, the tarball's code/inference.py must be
    byte for byte the one installed here, or the model is refused before any of it runs.
    """
    from churn_core.signing import TRUST_ENV, SignatureError

    if not os.environ.get(TRUST_ENV, "").strip():
        return
    script = model_dir / CODE_DIR / "inference.py"
    if not script.is_file() or script.read_bytes() != inference_source():
        raise SignatureError(f"{script} is not this image's inference code; refusing to run it")


@dataclass
class HandlerState:
    module: ModuleType | None = None
    model: Any = None
    ready: threading.Event = field(default_factory=threading.Event)
    failed: str | None = None

    def load(self, model_dir: Path) -> None:
        started = time.perf_counter()
        refuse_foreign_code(model_dir)
        self.module = import_inference(model_dir)
        self.model = self.module.model_fn(str(model_dir))
        self.ready.set()
        log.info("model_fn finished in %.2fs; ready", time.perf_counter() - started)

    def invoke(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        if self.module is None:
            raise RuntimeError("invoke() before load(): the handler module is not imported")
        content_type = headers.get("content-type") or headers.get("contenttype") or ""
        accept = headers.get("accept") or "application/json"
        context = RequestContext(headers)
        try:
            data = _call(self.module.input_fn, body, content_type, context=context)
            prediction = _call(self.module.predict_fn, data, self.model, context=context)
            result = _call(self.module.output_fn, prediction, accept, context=context)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500:
                payload = exc.as_dict() if hasattr(exc, "as_dict") else {"error": str(exc)}
                return status, json.dumps(payload).encode(), "application/json"
            log.exception("invocation failed")  # the trace goes to the log, never to the client
            return 500, b'{"error": "internal error"}', "application/json"
        if isinstance(result, tuple):
            response, response_type = result[0], result[1]
        else:
            response, response_type = result, accept
        data = response.encode() if isinstance(response, str) else bytes(response)
        return 200, data, response_type


def _handler_class(state: HandlerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "sagemaker-handler"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body are two writes: without this, Nagle + delayed ACK add ~40 ms
            # to every keep-alive response.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: int, body: bytes = b"", content_type: str = "") -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: HTTPStatus, message: str) -> None:
            self._send(status, json.dumps({"error": message}).encode(), "application/json")

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/ping":
                return self._error(HTTPStatus.NOT_FOUND, "not found")
            if state.ready.is_set():
                return self._send(HTTPStatus.OK)
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, state.failed or "model is loading")

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            # /endpoints/<name>/invocations is sagemaker-runtime's path: `test` can run
            # against this server through boto3 with --endpoint-url.
            parts = path.strip("/").split("/")
            invocation = path == "/invocations" or (
                len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations"
            )
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_PAYLOAD_BYTES:
                self.close_connection = True
                return self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload over 6 MB")
            body = self.rfile.read(length)
            if not invocation:
                return self._error(HTTPStatus.NOT_FOUND, "not found")
            if not state.ready.is_set():
                return self._error(HTTPStatus.SERVICE_UNAVAILABLE, "model is loading")
            headers = {key.lower(): value for key, value in self.headers.items()}
            self._send(*state.invoke(body, headers))

    return Handler


def make_server(state: HandlerState, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), _handler_class(state))
    server.daemon_threads = True
    return server


def serve(model: str | Path, host: str, port: int) -> int:
    """Bind first (so /ping can say 503 while loading), load, serve until SIGTERM/SIGINT.

    A model that fails to load (missing, tampered, not signed by a trusted key) does not stop the
    server: /ping keeps answering 503 with the reason, which is what SageMaker's health check and
    an operator see."""
    state = HandlerState()
    server = make_server(state, host, port)
    log.info("listening on %s:%d", *server.server_address[:2])
    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    with tempfile.TemporaryDirectory(prefix="sagemaker-model-") as workdir:

        def load() -> None:
            try:
                state.load(model_dir_from(model, workdir))
            except Exception as exc:
                # Stay up: /ping answers 503 with a reason safe to publish; the log has detail.
                state.failed = getattr(exc, "public_reason", None) or "model failed to load"
                print(f"model failed to load: {type(exc).__name__}: {exc}", file=sys.stderr)

        threading.Thread(target=load, name="model-loader", daemon=True).start()
        server.serve_forever(poll_interval=0.2)
        server.server_close()
    return 0
