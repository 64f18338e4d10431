"""serving-api against its HTTP stack's ceiling, MLServer and the seed, in one run, on loopback.

    uv run python benchmarks/serving_bench.py [--model-dir artifacts/model] [--duration 10]
        [--soak 60] [--no-seed] [--no-mlserver] [--work-us 50] [--json results.json]

Every figure that matters is a ratio between servers measured in the same run (the machine is
shared and noisy). serving-api runs in its production configuration: capture on, metrics on,
API key on (``X-API-Key`` sent by the load generator).

1. Comparators (benchmarks/comparators.py): a no-op ASGI app on the same uvicorn stack (the
   ceiling), MLServer + mlserver-lightgbm on the same booster (throwaway venv; skipped with a
   message when it cannot be installed), and the seed-style FastAPI + scikit-learn service.
2. wrk (benchmarks/load.py) on ``/predict`` at 1 and 8 connections, ``/predict?explain=true``
   at 1, ``/predict/batch`` of 1,000 customers at 1, and 16 connections against one worker and
   ``--workers 2``.
3. In process: ``Predictor.predict`` of 1,000 customers and of one explained customer.
4. Soak: a fresh serving-api, 60 s at 16 connections: errors, RSS growth, every answer captured.

``--work-us N`` adds the no-op with N µs of busy CPU per request to the comparison: what a
req/s goal leaves an app on this stack (its CPU per request and req/s against the plain no-op's).

``--noop-server`` / ``--baseline-server`` run a comparator itself (the benchmark's children).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import comparators
from load import Result, load
from service import API_KEY, check_post, start_service, started, wait_ready
from soak import soak

from churn_testing import ServerProcess
from churn_testing.benchmarking import machine, p50_ms, process_tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
SEED = 7


def sample_customers(n: int = 32, seed: int = SEED) -> list[dict[str, Any]]:
    from churn_core.data import generate
    from churn_core.schema import FEATURE_NAMES

    frame = generate(n, seed=seed)[list(FEATURE_NAMES)]
    return json.loads(frame.to_json(orient="records"))


# --------------------------------------------------------------------------------------------
# Processes


def ensure_bundle(model_dir: Path) -> None:
    if (model_dir / "manifest.json").is_file():
        return
    print(f"no bundle at {model_dir}: training the default model", flush=True)
    subprocess.run(
        [sys.executable, "-m", "churn_core.cli", "train", "--out", str(model_dir)], check=True
    )


def in_process(model_dir: Path) -> dict[str, float]:
    """p50 of Predictor.predict for 1,000 customers, for one (through LightGBM's C API, then
    compiled as the servers do once ready) and for one explained customer."""
    from churn_core import Predictor

    predictor = Predictor.from_bundle(model_dir)
    batch = sample_customers(1_000, seed=SEED + 1)
    one = batch[:1]
    one_c_api_ms = p50_ms(lambda: predictor.predict(one), 2000, warmup=1)
    predictor.compile_single_row()
    return {
        "batch_1000_ms": p50_ms(lambda: predictor.predict(batch), 50, warmup=1),
        "one_c_api_ms": one_c_api_ms,
        "one_ms": p50_ms(lambda: predictor.predict(one), 2000, warmup=1),
        "explain_one_ms": p50_ms(lambda: predictor.predict(one, explain=True), 300, warmup=1),
    }


class Run:
    """Measures and prints one line per (server, route, connections) and round."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.results: dict[str, list[Result]] = {}
        self.cpu_us: dict[str, list[float]] = {}  # server CPU per request, per measurement

    def measure(
        self,
        key: str,
        url: str,
        bodies: list[bytes],
        c: int,
        headers: dict[str, str] | None,
        pid: int | None = None,
    ) -> Result:
        if key not in self.results:
            check_post(url, bodies[0], headers)
            load(url, bodies, c, 2, headers)  # warm
        cpu_before = process_tree_cpu_seconds(pid) if pid else 0.0
        result = load(url, bodies, c, self.duration, headers)
        if pid and result.requests:
            cpu = process_tree_cpu_seconds(pid) - cpu_before
            self.cpu_us.setdefault(key, []).append(cpu / result.requests * 1e6)
        self.results.setdefault(key, []).append(result)
        cpu_note = f"  server CPU {self.cpu_us[key][-1]:6.1f} µs/req" if key in self.cpu_us else ""
        print(
            f"  {key:40} p50 {result.p50_ms:8.3f} ms  p95 {result.p95_ms:8.3f} ms "
            f"{result.rps:10.1f} req/s  errors {result.errors}{cpu_note}",
            flush=True,
        )
        return result

    def median_cpu_us(self, key: str) -> float | None:
        values = sorted(self.cpu_us.get(key, []))
        return values[len(values) // 2] if values else None

    def median(self, key: str, attr: str) -> float | None:
        values = sorted(getattr(r, attr) for r in self.results.get(key, []))
        return values[len(values) // 2] if values else None


# name, url, bodies, headers, server pid (for its CPU per request)
Target = tuple[str, str, list[bytes], dict[str, str] | None, int]


def head_to_head(run: Run, targets: list[Target], concurrency: tuple[int, ...], rounds: int):
    """Each target in turn, round after round: load from other jobs on this shared machine
    then falls on every server alike, and the medians compare like with like."""
    for _ in range(rounds):
        for c in concurrency:
            for name, url, bodies, headers, pid in targets:
                run.measure(f"{name} c={c}", url, bodies, c, headers, pid)


def mlserver_target(args: argparse.Namespace, workdir: Path) -> tuple[ServerProcess, Target] | None:
    if args.no_mlserver or (bin_dir := comparators.mlserver_env()) is None:
        return None
    from churn_core.features import build_matrix, columns_from_records
    from churn_core.schema import validate_customers

    matrix = build_matrix(columns_from_records(validate_customers(sample_customers())))
    v2 = [comparators.mlserver_body(row) for row in matrix.tolist()]
    process = comparators.start_mlserver(bin_dir, args.model_dir / "model.txt", workdir)
    try:
        started(process, 300)
    except SystemExit as error:  # it did not come up: skip it, say why
        print(f"MLServer comparator skipped: {str(error)[-600:]}")
        return None
    url = f"{process.url}/v2/models/{comparators.MLSERVER_MODEL}/infer"
    return process, ("mlserver /v2/models/churn/infer", url, v2, None, process.pid)


def measure_all(args: argparse.Namespace, bodies: list[bytes]) -> tuple[Run, float]:
    run = Run(args.duration)
    processes: list[ServerProcess] = []
    captures = [Path(tempfile.mkdtemp(prefix="bench-capture-")) for _ in range(2)]
    workdir = Path(tempfile.mkdtemp(prefix="bench-mlserver-"))
    try:
        service = start_service(args.model_dir, captures[0])
        processes.append(service)
        ready_s = wait_ready(service, 60)
        print(f"serving-api ready {ready_s:.2f} s after start ({args.model_dir})", flush=True)
        noop = started(comparators.start_noop(__file__))
        processes.append(noop)
        targets: list[Target] = [
            ("noop /predict", f"{noop.url}/predict", bodies, None, noop.pid),
            ("serving-api /predict", f"{service.url}/predict", bodies, API_KEY, service.pid),
        ]
        if args.work_us:
            busy = started(comparators.start_noop(__file__, args.work_us))
            processes.append(busy)
            name = busy_noop(args.work_us)
            targets.append((name, f"{busy.url}/predict", bodies, None, busy.pid))
        if (ml := mlserver_target(args, workdir)) is not None:
            processes.append(ml[0])
            targets.append(ml[1])
        head_to_head(run, targets, (1, 8), args.rounds)
        batch = [json.dumps({"instances": sample_customers(1_000, seed=SEED + 1)}).encode()]
        for route, route_bodies in (("/predict?explain=true", bodies), ("/predict/batch", batch)):
            for _ in range(args.rounds):
                key = f"serving-api {route} c=1"
                run.measure(key, f"{service.url}{route}", route_bodies, 1, API_KEY, service.pid)
        for process in processes[1:]:
            process.stop(60)
        two = started(start_service(args.model_dir, captures[1], workers=2))
        processes.append(two)
        workers: list[Target] = [
            ("serving-api /predict", f"{service.url}/predict", bodies, API_KEY, service.pid),
            ("serving-api-2w /predict", f"{two.url}/predict", bodies, API_KEY, two.pid),
        ]
        head_to_head(run, workers, (16,), args.rounds)
    finally:
        for process in processes:
            process.stop(60)
        for directory in (*captures, workdir):
            shutil.rmtree(directory, ignore_errors=True)
    if not args.no_seed:
        print("training the seed-style stacking model …", flush=True)
        seed = started(comparators.start_baseline(__file__, args.baseline_rows), 1800)
        try:
            plan: list[Target] = [("seed /predict", f"{seed.url}/predict", bodies, None, seed.pid)]
            head_to_head(run, plan, (1, 8), 1)
        finally:
            seed.stop(60)
    return run, ready_s


def busy_noop(work_us: float) -> str:
    """The name the no-op with ``work_us`` of busy CPU per request is measured under."""
    return f"noop+{work_us:g}µs /predict"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def report(
    run: Run, core: dict[str, float], ready_s: float, work_us: float = 0.0
) -> dict[str, bool]:
    get = run.median  # the median over rounds

    c8 = get("serving-api /predict c=8", "rps")
    p1 = get("serving-api /predict c=1", "p50_ms")
    figures = {
        "/predict c=8 req/s ÷ no-op": ratio(c8, get("noop /predict c=8", "rps")),
        "/predict c=1 p50 ÷ no-op p50": ratio(p1, get("noop /predict c=1", "p50_ms")),
        "/predict c=8 req/s ÷ MLServer": ratio(
            c8, get("mlserver /v2/models/churn/infer c=8", "rps")
        ),
        "/predict c=1 p50: MLServer ÷ serving-api": ratio(
            get("mlserver /v2/models/churn/infer c=1", "p50_ms"), p1
        ),
        "/predict c=8 req/s ÷ seed": ratio(c8, get("seed /predict c=8", "rps")),
        "--workers 2 ÷ 1 worker at c=16 (req/s)": ratio(
            get("serving-api-2w /predict c=16", "rps"), get("serving-api /predict c=16", "rps")
        ),
    }
    print()
    for name, value in figures.items():
        print(f"  {name:45} {'skipped' if value is None else f'{value:.2f}'}")
    # Where a request's CPU goes: the no-op's is the HTTP stack's; the rest is the app's.
    ours = run.median_cpu_us("serving-api /predict c=8")
    stack = run.median_cpu_us("noop /predict c=8")
    if ours and stack:
        print(
            f"  server CPU per /predict at c=8: serving-api {ours:.0f} µs, no-op {stack:.0f} µs "
            f"(the HTTP stack's share of ours: {stack / ours:.0%})"
        )
    busy = f"{busy_noop(work_us)} c=8"
    if work_us and (busy_cpu := run.median_cpu_us(busy)) and stack:
        print(
            f"  the no-op with {work_us:g} µs of work per request: {busy_cpu:.0f} µs of server "
            f"CPU per request, c=8 req/s ÷ the no-op's "
            f"{(ratio(get(busy, 'rps'), get('noop /predict c=8', 'rps')) or 0):.2f}"
        )
    print(
        f"  in process: batch of 1,000 p50 {core['batch_1000_ms']:.2f} ms · one customer "
        f"{core['one_ms'] * 1e3:.1f} µs (LightGBM's C API: {core['one_c_api_ms'] * 1e3:.1f} µs) "
        f"· one explained {core['explain_one_ms']:.3f} ms"
    )
    explain = get("serving-api /predict?explain=true c=1", "p50_ms")
    checks = {
        "/predict c=8 >= 40 % of the no-op's req/s": (figures["/predict c=8 req/s ÷ no-op"] or 0)
        >= 0.40,
        "/predict c=1 p50 <= 2x the no-op's": (figures["/predict c=1 p50 ÷ no-op p50"] or 99) <= 2,
        "explain c=1 p50 <= 1 ms": explain is not None and explain <= 1.0,
        "batch of 1,000 in process <= 5 ms": core["batch_1000_ms"] <= 5.0,
        "ready <= 2 s after start": ready_s <= 2,
    }
    if figures["/predict c=8 req/s ÷ MLServer"] is not None:
        checks["/predict c=8 >= 5x MLServer's req/s"] = (
            figures["/predict c=8 req/s ÷ MLServer"] >= 5
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "artifacts" / "model")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--soak", type=float, default=60.0, help="soak seconds (0 skips it)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each comparison")
    parser.add_argument("--no-seed", action="store_true", help="skip the seed-style comparator")
    parser.add_argument("--no-mlserver", action="store_true", help="skip the MLServer comparator")
    parser.add_argument("--baseline-rows", type=int, default=10_000)
    parser.add_argument(
        "--work-us",
        type=float,
        default=0.0,
        help="also load a no-op that busies its CPU this many µs per request (what a req/s "
        "goal leaves an app on this stack)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--noop-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_server:
        comparators.run_baseline_server(args.port, args.rows)
        return 0
    if args.noop_server:
        comparators.run_noop_server(args.port, args.work_us)
        return 0

    ensure_bundle(args.model_dir)
    bodies = [json.dumps(c).encode() for c in sample_customers()]
    print(f"machine: {machine()}; load generator: {'wrk' if shutil.which('wrk') else 'python'}")
    core = in_process(args.model_dir)
    run, ready_s = measure_all(args, bodies)
    checks = report(run, core, ready_s, args.work_us)
    soak_result = soak(args.model_dir, args.soak, 16, bodies) if args.soak > 0 else None
    if soak_result:
        print(f"soak: {json.dumps(soak_result)}")
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
        results = {k: [{**vars(r), "rps": r.rps} for r in v] for k, v in run.results.items()}
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "ready_seconds": ready_s,
                    "in_process": core,
                    "results": results,
                    "soak": soak_result,
                    "checks": checks,
                },
                indent=2,
            )
        )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
