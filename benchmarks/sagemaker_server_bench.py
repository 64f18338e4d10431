"""`sagemaker-handler serve` (uvicorn) against the ThreadingHTTPServer it replaced, same run.

    uv run --all-packages python benchmarks/sagemaker_server_bench.py [--model-dir DIR]
        [--old-rev e196d86] [--requests 2000] [--batches 40] [--rounds 2]

The old server is not in the product any more: its module is taken from git (`git show
REV:services/sagemaker-handler/src/sagemaker_handler/server.py`) into a temporary directory and
run by the same interpreter, on the same model.tar.gz, with the same code/inference.py. The two
servers take turns, --rounds times each, one process at a time. Per server and workload:
- one customer, c=1: --requests sequential POST /invocations over one keep-alive connection;
- one customer, c=8: eight keep-alive connections, each sending its next request when its
  previous answer arrived, --requests in all;
- 1,000-customer batch (JSON list), c=1: --batches sequential requests;
- a burst: 32 connections opened at once, time until each had its first answer.
Connections are opened and warmed up before the timed requests: the table is the steady state.
The client is a minimal asyncio HTTP/1.1 client in this process (httpx would cost more CPU than
the servers on a small machine). Prints throughput, p50 and p99 per server (the median over
rounds) and new/old ratios, with the machine line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from churn_core.data import generate
from churn_core.schema import FEATURE_NAMES
from churn_testing import ServerExited, ServerNotReady, ServerProcess, free_port
from churn_testing.benchmarking import machine, percentile
from churn_testing.bundles import given_or_quick, sagemaker_tarball

OLD_MODULE = "services/sagemaker-handler/src/sagemaker_handler/server.py"
WARMUP = 50
CONCURRENCY = 8
BURST = 32  # connections opened at once


def customers(n: int) -> list[dict]:
    return generate(n, seed=7)[list(FEATURE_NAMES)].to_dict(orient="records")


def request_bytes(body: bytes) -> bytes:
    head = (
        "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> None:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = head[9:12]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    if status != b"200":
        raise SystemExit(f"HTTP {status.decode()}: {body[:300]!r}")


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connection_loop(connection: Connection, raw: bytes, count: int, samples: list) -> None:
    for _ in range(count):
        began = time.perf_counter()
        await exchange(*connection, raw)
        samples.append((time.perf_counter() - began) * 1000)


async def workload(port: int, raw: bytes, requests: int, concurrency: int) -> tuple[float, list]:
    """(requests per second, latencies in ms) on connections opened and warmed up beforehand:
    the steady state, not the connection set-up (see connection_burst)."""
    connections = []
    for _ in range(concurrency):
        connections.append(await asyncio.open_connection("127.0.0.1", port))
    try:
        await asyncio.gather(*(connection_loop(c, raw, 5, []) for c in connections))
        samples: list[float] = []
        per = requests // concurrency
        began = time.perf_counter()
        await asyncio.gather(*(connection_loop(c, raw, per, samples) for c in connections))
        return len(samples) / (time.perf_counter() - began), samples
    finally:
        for _, writer in connections:
            writer.close()


async def connection_burst(port: int, raw: bytes, connections: int) -> float:
    """Milliseconds until every one of ``connections`` opened at once had its first answer."""

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await exchange(reader, writer, raw)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    return (time.perf_counter() - began) * 1000


def start(name: str, argv: list[str], port: int) -> ServerProcess:
    process = ServerProcess(argv, f"http://127.0.0.1:{port}", "/ping", name=name)
    try:
        process.wait_ready(180)
    except (ServerExited, ServerNotReady) as error:
        process.stop()
        raise SystemExit(str(error)) from None
    return process


def commands(tarball: Path, old_dir: Path, port: int) -> dict[str, list[str]]:
    new = [sys.executable, "-m", "sagemaker_handler.cli", "serve", "--model", str(tarball)]
    old = [
        sys.executable, "-c",
        "import sys; sys.path.insert(0, sys.argv[1]); import stdlib_server as s; "
        "sys.exit(s.serve(sys.argv[2], '127.0.0.1', int(sys.argv[3])))",
        str(old_dir), str(tarball), str(port),
    ]  # fmt: skip
    return {"stdlib": old, "uvicorn": [*new, "--host", "127.0.0.1", "--port", str(port)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, help="a bundle (default: train a quick one)")
    parser.add_argument("--old-rev", default="e196d86", help="git revision of the stdlib server")
    parser.add_argument("--requests", type=int, default=2000, help="one-customer requests")
    parser.add_argument("--batches", type=int, default=40, help="1,000-customer requests")
    parser.add_argument("--rounds", type=int, default=2, help="turns per server")
    args = parser.parse_args()

    one = request_bytes(json.dumps(customers(1)[0]).encode())
    batch = request_bytes(json.dumps(customers(1000)).encode())
    workloads = {
        "one customer, c=1": (one, args.requests, 1),
        f"one customer, c={CONCURRENCY}": (one, args.requests, CONCURRENCY),
        "1,000-customer batch, c=1": (batch, args.batches, 1),
    }
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    bursts: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="sm-server-bench-") as scratch:
        old = subprocess.run(
            ["git", "show", f"{args.old_rev}:{OLD_MODULE}"], capture_output=True, check=True
        ).stdout
        if b"ThreadingHTTPServer" not in old:
            raise SystemExit(f"{args.old_rev}:{OLD_MODULE} is not the ThreadingHTTPServer one")
        (Path(scratch) / "stdlib_server.py").write_bytes(old)
        model_dir = given_or_quick(args.model_dir)
        tarball = sagemaker_tarball(model_dir, Path(scratch))

        for round_ in range(args.rounds):
            for server in ("stdlib", "uvicorn"):
                port = free_port()
                process = start(server, commands(tarball, Path(scratch), port)[server], port)
                try:
                    asyncio.run(workload(port, one, WARMUP, 1))
                    burst = asyncio.run(connection_burst(port, one, BURST))
                    bursts.setdefault(server, []).append(burst)
                    for name, (raw, requests, concurrency) in workloads.items():
                        rate, ms = asyncio.run(workload(port, raw, requests, concurrency))
                        figures = (rate, statistics.median(ms), percentile(ms, 99))
                        results.setdefault((server, name), []).append(figures)
                finally:
                    process.stop()
                print(f"round {round_ + 1}: {server} done", file=sys.stderr, flush=True)

    def med(server: str, name: str, i: int) -> float:
        return statistics.median(r[i] for r in results[(server, name)])

    print(f"\nmachine: {machine()}")
    print(f"median of {args.rounds} rounds per server, servers in turns; stdlib = {args.old_rev}\n")
    print("| workload | server | req/s | p50 | p99 |")
    print("|---|---|---:|---:|---:|")
    for name in workloads:
        for server in ("stdlib", "uvicorn"):
            print(
                f"| {name} | {server} | {med(server, name, 0):,.0f} "
                f"| {med(server, name, 1):.2f} ms | {med(server, name, 2):.2f} ms |"
            )
    print(
        f"\n{BURST} connections opened at once, until each had its first answer (median): "
        + ", ".join(f"{s} {statistics.median(bursts[s]):.0f} ms" for s in ("stdlib", "uvicorn"))
    )
    print("\n| workload | throughput new/old | p50 new/old | p99 new/old |")
    print("|---|---:|---:|---:|")
    for name in workloads:
        ratios = [med("uvicorn", name, i) / med("stdlib", name, i) for i in range(3)]
        print(f"| {name} | {ratios[0]:.2f} | {ratios[1]:.2f} | {ratios[2]:.2f} |")


if __name__ == "__main__":
    main()
