"""Cold start and one-customer latency of the three serving paths, side by side, on loopback.

    uv run --all-packages python benchmarks/paths_bench.py [--model-dir DIR] [--starts 3]
                                                            [--requests 300] [--via-uv]

For serving-api, the SageMaker container server (`sagemaker-handler serve` on the packaged
model.tar.gz) and the Vertex CPR server (`vertex-predictor serve`), one at a time:
1. cold start: process start → first 200 from the readiness route (/readyz, /ping, /health),
   the median of --starts fresh processes;
2. latency: --requests sequential one-customer requests over one keep-alive connection, after
   a warm-up, each path in its own one-customer form; p50 and p95.
Prints a markdown table and the machine. Without --model-dir a quick bundle is trained first.
`--via-uv` starts each server through `uv run --package <service>` (adds uv's start-up).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from churn_core.samples import SAMPLE_CUSTOMERS
from churn_testing import ServerExited, ServerNotReady, ServerProcess, free_port
from churn_testing.benchmarking import machine, percentile
from churn_testing.bundles import given_or_quick, sagemaker_tarball
from churn_testing.paths import SERVING_PATHS, ServingPath

WARMUP = 30


def start(server: ServingPath, argv: list[str], port: int) -> tuple[ServerProcess, float]:
    """Start the server; return it and the seconds until its readiness route said 200."""
    process = ServerProcess(argv, f"http://127.0.0.1:{port}", server.ready, name=server.name)
    try:
        return process, process.wait_ready(180)
    except (ServerExited, ServerNotReady) as error:
        process.stop()
        raise SystemExit(str(error)) from None


def latencies_ms(server: ServingPath, port: int, requests: int) -> list[float]:
    route, body = server.single(dict(SAMPLE_CUSTOMERS[0]))
    url = f"http://127.0.0.1:{port}{route}"
    samples = []
    with httpx.Client(timeout=10) as client:
        for i in range(WARMUP + requests):
            began = time.perf_counter()
            response = client.post(url, json=body)
            elapsed = time.perf_counter() - began
            if response.status_code != 200:
                raise SystemExit(f"{server.name}: {response.status_code} {response.text}")
            if i >= WARMUP:
                samples.append(elapsed * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, help="a bundle (default: train a quick one)")
    parser.add_argument("--starts", type=int, default=3, help="cold starts per path (median)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per path")
    parser.add_argument("--via-uv", action="store_true", help="start through `uv run --package`")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="paths-bench-") as scratch:
        model_dir = given_or_quick(args.model_dir)
        tarball = sagemaker_tarball(model_dir, Path(scratch))

        rows = []
        for server in SERVING_PATHS:
            starts = []
            for attempt in range(args.starts):
                port = free_port()
                argv = server.argv(model_dir, tarball, port, via_uv=args.via_uv)
                process, seconds = start(server, argv, port)
                starts.append(seconds)
                if attempt < args.starts - 1:
                    process.stop()
            try:  # the last process stays up for the latency run
                samples = latencies_ms(server, port, args.requests)
            finally:
                process.stop()
            rows.append((server, statistics.median(starts), samples))
            print(f"{server.name} done", file=sys.stderr, flush=True)

    launcher = "`uv run --package …`" if args.via_uv else "the console script"
    print(f"\nmachine: {machine()}; started by {launcher}")
    print(f"cold start: median of {args.starts}; latency: {args.requests} sequential requests\n")
    print("| path | server | cold start → ready | p50, one customer | p95 |")
    print("|---|---|---:|---:|---:|")
    for server, cold, samples in rows:
        print(
            f"| {server.name} | `{server.single({})[0]}` ready on `{server.ready}` | {cold:.2f} s "
            f"| {statistics.median(samples):.2f} ms | {percentile(samples, 95):.2f} ms |"
        )


if __name__ == "__main__":
    main()
