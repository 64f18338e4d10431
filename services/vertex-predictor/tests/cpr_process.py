"""`vertex-predictor serve` (the real CprModelServer) as a process for the tests."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from churn_testing import ServerProcess, free_port


class CprServer(ServerProcess):
    """The serving process, with the two requests the tests send."""

    def wait_refused(self, timeout: float) -> None:
        """Return once the health route answers 503 (the bundle was refused, the server is up);
        fail if the model is served or the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited:\n{self.output()}")
            try:
                status, _ = self.get(self.ready_url[len(self.url) :])
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = 0
            if status == 200:
                raise AssertionError(f"the model was served:\n{self.output()}")
            if status == 503:
                return
            time.sleep(0.05)
        raise AssertionError(f"no 503 from {self.ready_url} within {timeout} s:\n{self.output()}")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def post(self, path: str, body: Any, content_type: str = "application/json") -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def start_server(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 300.0, healthy: bool = True
) -> CprServer:
    """Start `vertex-predictor serve ARGS` and return once its health route answers 200, or
    with ``healthy=False`` once it answers 503 (a refused or missing bundle). ``env`` is added
    to this process's environment."""
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    command = [sys.executable, "-m", "vertex_predictor.cli", "serve", "--host", "127.0.0.1"]
    server = CprServer(
        [*command, "--port", str(port), *args],
        f"http://127.0.0.1:{port}",
        full_env.get("AIP_HEALTH_ROUTE", "/health"),
        env=full_env,
        name="vertex-predictor serve",
    )
    try:
        if healthy:
            server.wait_ready(timeout)
        else:
            server.wait_refused(timeout)
    except BaseException:
        server.stop()
        raise
    return server
