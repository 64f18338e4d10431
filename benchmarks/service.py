"""serving-api as the benchmarks start it: production configuration, readiness, a check."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from churn_testing import ServerExited, ServerNotReady, ServerProcess, free_port

API_KEY_HEADER = "X-API-Key"
API_KEY = {API_KEY_HEADER: "bench-key-0123456789"}


def check_post(url: str, body: bytes, headers: dict[str, str] | None = None) -> None:
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}")


def wait_ready(process: ServerProcess, timeout: float) -> float:
    """Seconds from start until /readyz said 200; exits the benchmark (with the server's output)
    when the server does not come up."""
    try:
        return process.wait_ready(timeout)
    except (ServerExited, ServerNotReady) as error:
        process.stop()
        raise SystemExit(str(error)) from None


def rss_mb(process: ServerProcess) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_service(
    model_dir: Path, capture_dir: Path, workers: int = 1, grpc_port: int | None = None
) -> ServerProcess:
    """serving-api in its production configuration: capture on, metrics on, API key on."""
    port = free_port()
    command = [sys.executable, "-m", "serving_api", "--model-dir", str(model_dir)]
    command += ["--port", str(port), "--capture-dir", str(capture_dir), "--log-level", "warning"]
    command += ["--workers", str(workers)]
    if grpc_port is not None:
        command += ["--grpc-port", str(grpc_port)]
    env = {**os.environ, "SERVING_API_KEY": API_KEY[API_KEY_HEADER]}
    return ServerProcess(
        command, f"http://127.0.0.1:{port}", "/readyz", name="serving-api", env=env
    )


# --------------------------------------------------------------------------------------------
# The run


def settle(process: ServerProcess, in_a_row: int = 20, timeout: float = 120) -> None:
    """Wait until the readiness route answers 200 ``in_a_row`` times on fresh connections: with
    several workers the first 200 may come from the only worker that is ready."""
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < in_a_row and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(process.ready_url, timeout=5) as response:
                streak = streak + 1 if response.status == 200 else 0
        except urllib.error.URLError:
            streak = 0
            time.sleep(0.2)


def started(process: ServerProcess, timeout: float = 120) -> ServerProcess:
    wait_ready(process, timeout)
    settle(process)
    return process
