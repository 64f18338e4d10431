"""`sagemaker-handler serve` as a process for the tests, with the two requests they send."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

from churn_testing import ServerProcess


class HandlerServer(ServerProcess):
    """The serving process; ready when /ping answers 200."""

    def wait_refused(self, timeout: float = 120.0) -> tuple[int, dict[str, Any]]:
        """Wait until /ping reports a failed load; the server must stay up meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited {self.process.returncode}: {self.output()}")
            try:
                status, _, body = self.request("GET", "/ping")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status, body = 0, b""
            if status == 200:
                raise AssertionError("/ping answered 200: the model was served")
            if status:
                answer = json.loads(body or b"{}")
                if answer.get("error") != "model is loading":
                    return status, answer
            time.sleep(0.05)
        raise AssertionError(f"/ping never reported the failed load after {timeout}s")

    def request(
        self, method: str, path: str, body: bytes | str | None = None, **headers: str
    ) -> tuple[int, Message, bytes]:
        """Status, headers (names case-insensitive, as in HTTP) and body."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url + path, data=data, method=method)
        for key, value in headers.items():
            req.add_header(key.replace("_", "-"), value)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def invoke(
        self, body: Any, content_type: str = "application/json", **headers: str
    ) -> tuple[int, Message, bytes]:
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        return self.request("POST", "/invocations", body, Content_Type=content_type, **headers)


def start_serve(
    model: Path,
    port: int,
    env: dict[str, str] | None = None,
    use_port_flag: bool = True,
    options: tuple[str, ...] = (),
) -> HandlerServer:
    """Start `serve` (not yet ready); ``env`` is added to this process's environment."""
    command = [sys.executable, "-m", "sagemaker_handler.cli", "serve", "--model", str(model)]
    command += ["--host", "127.0.0.1", *options]
    if use_port_flag:
        command += ["--port", str(port)]
    return HandlerServer(
        command,
        f"http://127.0.0.1:{port}",
        "/ping",
        env={**os.environ, **(env or {})},
        name="sagemaker-handler serve",
    )


# The contract's cases, shared by the tests of `serve` and of AWS's framework stack.
FEATURES = (
    "CreditScore", "Geography", "Gender", "Age", "Tenure", "Balance",
    "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary",
)  # fmt: skip
BAD_CSV_CELLS = [  # (row, the field the 400 must name)
    ("abc,France,Male,45,3,100.0,1,1,0,5000.0", "CreditScore"),
    ("650,France,Male,45.5,3,100.0,1,1,0,5000.0", "Age"),
    ("650,Mars,Male,45,3,100.0,1,1,0,5000.0", "Geography"),
    ("650,France,Male,45,3,-1.0,1,1,0,5000.0", "Balance"),
    ("650,France,Male,45,3,100.0,1,2,0,5000.0", "HasCrCard"),
    ("650,France,Male,45,3,100.0,1,1,0,nan", "EstimatedSalary"),
]
MALFORMED_BODIES: list[tuple[str | bytes, str, str]] = [  # (body, content type, message)
    ("{not json", "application/json", "not valid JSON"),
    ("[]", "application/json", "no customers"),
    ("[1, 2]", "application/json", "instance 0"),
    ('{"instances": [], "parameters": {"explain": "yes"}}', "application/json", "explain"),
    ('{"a": 1}\n[2]\n', "application/jsonlines", "line 2"),
    ("1,2,3\n", "text/csv", "expected 10 columns"),
    ("", "text/csv", "no customers"),
    (b"\xff\xfe", "application/jsonlines", "UTF-8"),
]
UNSUPPORTED_CONTENT_TYPES = ["text/plain", "application/x-npy", "image/png"]
UNSUPPORTED_ACCEPTS = ["application/xml", "application/x-protobuf"]


def csv_rows(customers: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([c[f] for f in FEATURES] for c in customers)
    return out.getvalue()
