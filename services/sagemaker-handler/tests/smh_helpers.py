"""Helpers shared by the tests (a unique module name: test directories share one sys.path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    url: str
    cold_start_s: float

    def request(
        self, method: str, path: str, body: bytes | str | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url + path, data=data, method=method)
        for key, value in headers.items():
            req.add_header(key.replace("_", "-"), value)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def invoke(
        self, body: Any, content_type: str = "application/json", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        return self.request("POST", "/invocations", body, Content_Type=content_type, **headers)


def start_serve(
    model: Path, port: int, env: dict[str, str] | None = None, use_port_flag: bool = True
) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "sagemaker_handler.cli", "serve", "--model", str(model)]
    command += ["--host", "127.0.0.1"]
    if use_port_flag:
        command += ["--port", str(port)]
    return subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(process: subprocess.Popen[str], url: str, timeout_s: float = 90.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited {process.returncode}: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url}/ping not 200 after {timeout_s}s")
