"""Running `vertex-predictor serve` (the real CprModelServer) as a subprocess for tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO, Any

from churn_core.testing import free_port as _free_port


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    log: IO[bytes]
    cold_start_seconds: float

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

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

    def stop(self) -> int:
        self.process.terminate()
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.log.close()
        return code


class ServerExited(RuntimeError):
    def __init__(self, returncode: int, output: str) -> None:
        super().__init__(f"server exited with {returncode}:\n{output}")
        self.returncode = returncode
        self.output = output


def start_server(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120.0
) -> RunningServer:
    """Start `vertex-predictor serve ARGS` and return once its health route answers 200."""
    port = _free_port()
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    command = [sys.executable, "-m", "vertex_predictor.cli", "serve", "--host", "127.0.0.1"]
    # A file, not a pipe: nobody reads a pipe while the server runs, and a full one blocks it.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by RunningServer.stop
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--port", str(port), *args], env=full_env, stdout=log, stderr=subprocess.STDOUT
    )
    server = RunningServer(f"http://127.0.0.1:{port}", process, log, 0.0)
    health_route = full_env.get("AIP_HEALTH_ROUTE", "/health")
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            output = server.output()
            log.close()
            raise ServerExited(process.returncode, output)
        try:
            with urllib.request.urlopen(server.url + health_route, timeout=2) as response:
                if response.status == 200:
                    server.cold_start_seconds = time.perf_counter() - started
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    server.stop()
    raise TimeoutError(f"server did not become healthy within {timeout} s")
