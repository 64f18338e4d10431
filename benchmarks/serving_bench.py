"""serving-api against a seed-style baseline, in one run, on loopback.

    uv run python benchmarks/serving_bench.py [--model-dir artifacts/model] [--duration 10]
                                              [--soak 60] [--json results.json]

1. Starts serving-api (one process, capture on) on the bundle (trained first if missing) and
   measures the time from process start to /readyz 200.
2. Starts the BASELINE: what the seed served — FastAPI with a pydantic body model, a
   scikit-learn Pipeline (one-hot encoding + StackingClassifier of RandomForest,
   GradientBoosting and LogisticRegression under a LogisticRegression), a one-row pandas
   DataFrame per request, SHAP KernelExplainer for ?explain=true.
3. Loads both with wrk (Debian's `wrk`; a Python asyncio generator when wrk is missing) at
   concurrency 1 and 8 on /predict and /predict?explain=true, prints p50/p95/rps and the ratio.
4. Soak: a fresh serving-api, 60 s at concurrency 16 on /predict with capture on: errors, RSS
   from the 10th second to the end, and captured records against answered requests.

`--grpc-vs-rest` measures only the Open Inference Protocol transports of one serving-api
(started with `--grpc-port`), same customer, same run, each with a Python asyncio client loop at
concurrency 1 and 8: REST `POST /predict`, REST `POST /v2/models/churn/infer` (JSON tensors)
and gRPC `ModelInfer` (raw tensors, grpc.aio stub), in 5 interleaved rounds (median round
reported). Same client language for all three, so the ratios compare the server paths, not wrk
against Python.

`--baseline-server` runs the baseline app itself (used by the benchmark as a child process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baseline import seed_pipeline
from pydantic import BaseModel

from churn_testing import ServerExited, ServerNotReady, ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
SEED = 7


# --------------------------------------------------------------------------------------------
# Requests


def sample_customers(n: int = 32) -> list[dict[str, Any]]:
    from churn_core.data import generate
    from churn_core.schema import FEATURE_NAMES

    frame = generate(n, seed=SEED)[list(FEATURE_NAMES)]
    return json.loads(frame.to_json(orient="records"))


# --------------------------------------------------------------------------------------------
# The baseline (seed-style) service


class CustomerIn(BaseModel):
    """The seed's request model (module level: FastAPI resolves string annotations here)."""

    CreditScore: int
    Geography: str
    Gender: str
    Age: int
    Tenure: int
    Balance: float
    NumOfProducts: int
    HasCrCard: int
    IsActiveMember: int
    EstimatedSalary: float


def baseline_app(rows: int):
    import numpy as np
    import pandas as pd
    import shap
    from fastapi import FastAPI

    from churn_core.data import generate
    from churn_core.schema import FEATURE_NAMES

    model = seed_pipeline(rows, seed=SEED)
    preprocess, stack = model.named_steps["preprocess"], model.named_steps["model"]
    data = generate(rows, seed=SEED)
    background = shap.kmeans(preprocess.transform(data[list(FEATURE_NAMES)].head(500)), 10)
    explainer = shap.KernelExplainer(lambda m: stack.predict_proba(m)[:, 1], background)

    app = FastAPI(title="seed-style baseline")

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/predict")
    def predict(customer: CustomerIn, explain: bool = False) -> dict[str, Any]:
        frame = pd.DataFrame([customer.model_dump()])
        probability = float(model.predict_proba(frame)[0, 1])
        out: dict[str, Any] = {
            "churn_probability": probability,
            "churn_prediction": int(probability >= 0.5),
            "risk_level": "LOW" if probability < 0.3 else "MEDIUM" if probability < 0.7 else "HIGH",
        }
        if explain:
            values = explainer.shap_values(preprocess.transform(frame), nsamples=200, silent=True)
            names = preprocess.get_feature_names_out()
            out["feature_contributions"] = dict(
                zip(names, map(float, np.ravel(values)), strict=True)
            )
            out["base_value"] = float(np.ravel(explainer.expected_value)[0])
        return out

    return app


def run_baseline_server(port: int, rows: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(rows), host="127.0.0.1", port=port, log_level="warning")


# --------------------------------------------------------------------------------------------
# Processes


def check_post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
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
    model_dir: Path, capture_dir: Path, grpc_port: int | None = None
) -> ServerProcess:
    port = free_port()
    command = [sys.executable, "-m", "serving_api", "--model-dir", str(model_dir)]
    command += ["--port", str(port), "--capture-dir", str(capture_dir), "--log-level", "warning"]
    if grpc_port is not None:
        command += ["--grpc-port", str(grpc_port)]
    return ServerProcess(command, f"http://127.0.0.1:{port}", "/readyz", name="serving-api")


def start_baseline(rows: int) -> ServerProcess:
    port = free_port()
    command = [sys.executable, __file__, "--baseline-server", "--port", str(port)]
    command += ["--rows", str(rows)]
    return ServerProcess(command, f"http://127.0.0.1:{port}", "/readyz", name="baseline")


# --------------------------------------------------------------------------------------------
# Load generation


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


WRK_SCRIPT = """
local bodies = {BODIES}
local requests = {}
local i = 0
function init(args)
  for n, body in ipairs(bodies) do
    requests[n] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
  end
end
function request()
  i = i % #requests + 1
  return requests[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def run_wrk(url: str, bodies: list[bytes], concurrency: int, seconds: float) -> Result:
    lua_bodies = "{" + ",".join("[==[" + b.decode() + "]==]" for b in bodies) + "}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("{BODIES}", lua_bodies))
    try:
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "--timeout", "30s"]
        output = subprocess.run(
            [*command, "-s", script.name, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(s for s in output.splitlines() if s.startswith("RESULT "))
    requests, duration_us, p50_us, p95_us, errors = map(int, line.split()[1:])
    return Result(requests, duration_us / 1e6, p50_us / 1e3, p95_us / 1e3, errors)


async def _python_load(url: str, bodies: list[bytes], concurrency: int, seconds: float) -> Result:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    raw = [
        (
            f"POST {target} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n"
        ).encode()
        + b
        for b in bodies
    ]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        i = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(raw[i % len(raw)])
            i += 1
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            errors += status >= 400
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3

    return Result(len(latencies), elapsed, pct(0.50), pct(0.95), errors)


async def _grpc_load(address: str, request: Any, concurrency: int, seconds: float) -> Result:
    """``concurrency`` callers on one grpc.aio channel, each sending ``request`` in a loop."""
    import grpc

    from serving_api.grpc_gen import open_inference_grpc_pb2_grpc as pb_grpc

    latencies: list[float] = []
    errors = 0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        await stub.ModelInfer(request)  # connect before the clock starts
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    await stub.ModelInfer(request)
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


ROUNDS = 5


def grpc_vs_rest(model_dir: Path, seconds: float) -> dict[str, dict[str, Result]]:
    """REST /predict, REST V2 infer and gRPC ModelInfer on one server, same customer:
    ``seconds`` per transport and concurrency, in ROUNDS interleaved rounds."""
    customer = sample_customers(1)[0]
    v2_json, grpc_request = v2_bodies(customer)
    capture = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    grpc_port = free_port()
    service = start_service(model_dir, capture, grpc_port)
    results: dict[str, dict[str, Result]] = {}
    try:
        wait_ready(service, 60)
        address = f"127.0.0.1:{grpc_port}"
        runs = {
            "REST /predict": lambda c, t: _python_load(
                f"{service.url}/predict", [json.dumps(customer).encode()], c, t
            ),
            "REST V2 infer": lambda c, t: _python_load(
                f"{service.url}/v2/models/churn/infer", [v2_json], c, t
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


def load(url: str, bodies: list[bytes], concurrency: int, seconds: float) -> Result:
    if shutil.which("wrk"):
        return run_wrk(url, bodies, concurrency, seconds)
    return asyncio.run(_python_load(url, bodies, concurrency, seconds))


# --------------------------------------------------------------------------------------------
# The run


def ensure_bundle(model_dir: Path) -> None:
    if (model_dir / "manifest.json").is_file():
        return
    print(f"no bundle at {model_dir}: training the default model", flush=True)
    subprocess.run(
        [sys.executable, "-m", "churn_core.cli", "train", "--out", str(model_dir)], check=True
    )


def count_records(directory: Path) -> int:
    return sum(
        sum(1 for line in path.open("rb") if line.strip()) for path in directory.glob("*.jsonl")
    )


def metric_value(url: str, prefix: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def soak(model_dir: Path, seconds: float, concurrency: int, bodies: list[bytes]) -> dict:
    capture = Path(tempfile.mkdtemp(prefix="soak-capture-"))
    service = start_service(model_dir, capture)
    try:
        wait_ready(service, 60)
        rss: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            started = time.monotonic()
            while not stop.wait(1.0):
                rss.append((time.monotonic() - started, rss_mb(service)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        result = load(f"{service.url}/predict", bodies, concurrency, seconds)
        stop.set()
        sampler.join()
        answered_200 = metric_value(
            service.url, 'serving_requests_total{method="POST",route="/predict",status="200"}'
        )
        dropped = metric_value(service.url, "serving_capture_dropped_total")
    finally:
        code = service.stop(60)
    records = count_records(capture)
    shutil.rmtree(capture, ignore_errors=True)
    at_10 = next((mb for t, mb in rss if t >= 10), rss[0][1] if rss else 0.0)
    end = rss[-1][1] if rss else 0.0
    return {
        "seconds": seconds,
        "concurrency": concurrency,
        "requests": result.requests,
        "rps": round(result.rps),
        "errors": result.errors,
        "server_answered_200": int(answered_200),
        "captured_records": records,
        "capture_dropped": int(dropped),
        "rss_mb_at_10s": round(at_10, 1),
        "rss_mb_end": round(end, 1),
        "rss_growth_pct": round(100 * (end - at_10) / at_10, 2) if at_10 else None,
        "exit_code": code,
    }


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load1 = os.getloadavg()[0]
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}, load avg {load1:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "artifacts" / "model")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--soak", type=float, default=60.0, help="soak seconds (0 skips it)")
    parser.add_argument("--baseline-rows", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--grpc-vs-rest",
        action="store_true",
        help="only compare REST and gRPC (V2) on one serving-api; no baseline, no soak",
    )
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_server:
        run_baseline_server(args.port, args.rows)
        return 0

    ensure_bundle(args.model_dir)
    if args.grpc_vs_rest:
        print(f"machine: {machine()}; load generator: python asyncio (all three)")
        results = grpc_vs_rest(args.model_dir, args.duration)
        if args.json:
            serial = {k: {n: asdict(r) for n, r in v.items()} for k, v in results.items()}
            args.json.write_text(json.dumps({"machine": machine(), "results": serial}, indent=2))
        return 0
    bodies = [json.dumps(c).encode() for c in sample_customers()]
    print(f"machine: {machine()}; load generator: {'wrk' if shutil.which('wrk') else 'python'}")

    capture = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    service = start_service(args.model_dir, capture)
    ready_s = wait_ready(service, 60)
    print(f"serving-api ready {ready_s:.2f} s after start (bundle {args.model_dir})", flush=True)
    print("training the baseline stacking model …", flush=True)
    baseline = start_baseline(args.baseline_rows)
    baseline_ready_s = wait_ready(baseline, 1800)

    results: dict[str, dict[str, Result]] = {}
    try:
        for route in ("/predict", "/predict?explain=true"):
            for concurrency in (1, 8):
                key = f"{route} c={concurrency}"
                results[key] = {}
                for name, proc in (("service", service), ("baseline", baseline)):
                    check_post(f"{proc.url}{route}", bodies[0])
                    load(f"{proc.url}{route}", bodies, concurrency, 2)  # warm
                    results[key][name] = load(
                        f"{proc.url}{route}", bodies, concurrency, args.duration
                    )
                    r = results[key][name]
                    print(
                        f"  {key:28} {name:8} p50 {r.p50_ms:8.2f} ms  p95 {r.p95_ms:8.2f} ms "
                        f"{r.rps:9.1f} rps  errors {r.errors}",
                        flush=True,
                    )
    finally:
        baseline.stop(60)
        service.stop(60)
        shutil.rmtree(capture, ignore_errors=True)

    print()
    print(
        "| endpoint | c | serving-api p50 / p95 (ms) | rps | baseline p50 / p95 (ms) | rps "
        "| rps ratio | p50 ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for key, pair in results.items():
        route, c = key.rsplit(" c=", 1)
        s, b = pair["service"], pair["baseline"]
        print(
            f"| `{route}` | {c} | {s.p50_ms:.2f} / {s.p95_ms:.2f} | {s.rps:,.0f} "
            f"| {b.p50_ms:.1f} / {b.p95_ms:.1f} | {b.rps:,.1f} "
            f"| {s.rps / b.rps if b.rps else float('inf'):,.0f}× "
            f"| {b.p50_ms / s.p50_ms if s.p50_ms else float('inf'):,.0f}× |"
        )
    print(f"\nready after start: serving-api {ready_s:.2f} s (baseline {baseline_ready_s:.0f} s)")

    soak_result = soak(args.model_dir, args.soak, 16, bodies) if args.soak > 0 else None
    if soak_result:
        print(f"soak: {json.dumps(soak_result)}")

    one = results["/predict c=1"]["service"]
    eight = results["/predict c=8"]
    explain = results["/predict?explain=true c=1"]["service"]
    checks = {
        "/predict c=1 p50 <= 1.5 ms": one.p50_ms <= 1.5,
        "/predict c=8 >= 3000 rps": eight["service"].rps >= 3000,
        "/predict c=8 >= 20x baseline rps": eight["service"].rps >= 20 * eight["baseline"].rps,
        "explain c=1 p50 <= 20 ms": explain.p50_ms <= 20,
        "ready <= 2 s after start": ready_s <= 2,
    }
    if soak_result:
        checks["soak: 0 errors"] = soak_result["errors"] == 0
        growth = soak_result["rss_growth_pct"]
        checks["soak: RSS growth <= 10 %"] = growth is not None and growth <= 10
        checks["soak: every answered request captured"] = (
            soak_result["captured_records"] == soak_result["server_answered_200"]
            and soak_result["captured_records"] >= soak_result["requests"]
            and soak_result["capture_dropped"] == 0
        )
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "ready_seconds": ready_s,
                    "results": {
                        k: {n: asdict(r) for n, r in v.items()} for k, v in results.items()
                    },
                    "soak": soak_result,
                    "checks": checks,
                },
                indent=2,
            )
        )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
