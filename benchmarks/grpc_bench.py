"""Open Inference Protocol transports of one serving-api, same customer, same run.

    uv run python benchmarks/grpc_bench.py [--model-dir artifacts/model] [--duration 10]

One serving-api (production configuration: capture, metrics, API key; started with
``--grpc-port``) answers REST ``POST /predict``, REST ``POST /v2/models/churn/infer`` (JSON
tensors) and gRPC ``ModelInfer`` (raw tensors, grpc.aio stub), each driven by a Python asyncio
client loop at concurrency 1 and 8, in 5 interleaved rounds (the median round is reported).
The same client language for all three, so the ratios compare the server paths.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from load import Result, _python_load
from service import API_KEY, API_KEY_HEADER, start_service, wait_ready
from serving_bench import ROOT, ensure_bundle, sample_customers

from churn_testing import free_port
from churn_testing.benchmarking import machine

METADATA = ((API_KEY_HEADER.lower(), API_KEY[API_KEY_HEADER]),)
ROUNDS = 5


async def _grpc_load(address: str, request: Any, concurrency: int, seconds: float) -> Result:
    """``concurrency`` callers on one grpc.aio channel, each sending ``request`` in a loop."""
    import grpc

    from serving_api.grpc_gen import open_inference_grpc_pb2_grpc as pb_grpc

    latencies: list[float] = []
    errors = 0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        await stub.ModelInfer(request, metadata=METADATA)  # connect before the clock starts
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    await stub.ModelInfer(request, metadata=METADATA)
                except grpc.aio.AioRpcError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3

    return Result(len(latencies), elapsed, pct(0.50), pct(0.95), errors)


def v2_bodies(customer: dict[str, Any]) -> tuple[bytes, Any]:
    """The customer as a V2 JSON body and as a raw-tensor gRPC ModelInferRequest."""
    from churn_core.schema import FEATURES
    from serving_api import v2_binary
    from serving_api.grpc_gen import open_inference_grpc_pb2 as pb

    kinds = {"category": "BYTES", "int": "INT64", "float": "FP64"}
    inputs = [
        {"name": f.name, "datatype": kinds[f.kind], "shape": [1], "data": [customer[f.name]]}
        for f in FEATURES
    ]
    request = pb.ModelInferRequest(model_name="churn")
    for tensor in inputs:
        request.inputs.add(name=tensor["name"], datatype=tensor["datatype"], shape=[1])
        request.raw_input_contents.append(v2_binary.encode(tensor["datatype"], tensor["data"]))
    return json.dumps({"inputs": inputs}).encode(), request


def grpc_vs_rest(model_dir: Path, seconds: float) -> dict[str, dict[str, Result]]:
    """REST /predict, REST V2 infer and gRPC ModelInfer on one server, same customer:
    ``seconds`` per transport and concurrency, in ROUNDS interleaved rounds."""
    customer = sample_customers(1)[0]
    v2_json, grpc_request = v2_bodies(customer)
    capture = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    grpc_port = free_port()
    service = start_service(model_dir, capture, grpc_port=grpc_port)
    results: dict[str, dict[str, Result]] = {}
    try:
        wait_ready(service, 60)
        address = f"127.0.0.1:{grpc_port}"
        runs = {
            "REST /predict": lambda c, t: _python_load(
                f"{service.url}/predict", [json.dumps(customer).encode()], c, t, API_KEY
            ),
            "REST V2 infer": lambda c, t: _python_load(
                f"{service.url}/v2/models/churn/infer", [v2_json], c, t, API_KEY
            ),
            "gRPC ModelInfer": lambda c, t: _grpc_load(address, grpc_request, c, t),
        }
        for concurrency in (1, 8):
            key = f"c={concurrency}"
            for run in runs.values():
                asyncio.run(run(concurrency, 1))  # warm
            # Interleaved rounds, so a change in the shared machine's load hits every transport
            # alike; each transport's figures are those of its median round (by rps).
            rounds: dict[str, list[Result]] = {name: [] for name in runs}
            for _ in range(ROUNDS):
                for name, run in runs.items():
                    rounds[name].append(asyncio.run(run(concurrency, seconds / ROUNDS)))
            results[key] = {}
            for name, measured in rounds.items():
                r = results[key][name] = sorted(measured, key=lambda m: m.rps)[ROUNDS // 2]
                print(
                    f"  {key:5} {name:16} p50 {r.p50_ms:7.2f} ms  p95 {r.p95_ms:7.2f} ms "
                    f"{r.rps:9.1f} rps  errors {sum(m.errors for m in measured)}  "
                    f"(rounds: {', '.join(f'{m.rps:.0f}' for m in measured)} rps)",
                    flush=True,
                )
    finally:
        service.stop(60)
        shutil.rmtree(capture, ignore_errors=True)
    print("\n| c | transport | p50 / p95 (ms) | rps | rps vs REST /predict |")
    print("|---|---|---|---|---|")
    for key, row in results.items():
        reference = row["REST /predict"].rps
        for name, r in row.items():
            ratio = r.rps / reference if reference else float("inf")
            print(
                f"| {key[2:]} | {name} | {r.p50_ms:.2f} / {r.p95_ms:.2f} | {r.rps:,.0f} "
                f"| {ratio:.2f}× |"
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "artifacts" / "model")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    ensure_bundle(args.model_dir)
    print(f"machine: {machine()}; load generator: python asyncio (all three)")
    results = grpc_vs_rest(args.model_dir, args.duration)
    if args.json:
        serial = {k: {n: asdict(r) for n, r in v.items()} for k, v in results.items()}
        args.json.write_text(json.dumps({"machine": machine(), "results": serial}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
