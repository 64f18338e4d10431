"""Tarball size, cold start of `serve` (process start → /ping 200), /invocations latency.

uv run python services/sagemaker-handler/scripts/measure.py --model model.tar.gz
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from churn_core.samples import SAMPLE_CUSTOMERS
from churn_testing import free_port


def ping_ok(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    port = free_port()
    started = time.perf_counter()
    command = [sys.executable, "-m", "sagemaker_handler.cli", "serve", "--model", str(args.model)]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        stderr=subprocess.DEVNULL,
    )
    try:
        while not ping_ok(port):
            if server.poll() is not None or time.perf_counter() - started > 120:
                raise SystemExit("serve did not become ready")
            time.sleep(0.01)
        cold_start = time.perf_counter() - started

        body = json.dumps(SAMPLE_CUSTOMERS[0])
        headers = {"Content-Type": "application/json"}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        timings = []
        for i in range(args.requests + 20):
            t0 = time.perf_counter()
            connection.request("POST", "/invocations", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"status {response.status}")
            if i >= 20:  # warm-up excluded
                timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        result = {
            "tarball_bytes": args.model.stat().st_size if args.model.is_file() else None,
            "cold_start_s": round(cold_start, 2),
            "requests": len(timings),
            "p50_ms": round(statistics.median(timings), 3),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 3),
            "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 3),
        }
        print(json.dumps(result, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    main()
