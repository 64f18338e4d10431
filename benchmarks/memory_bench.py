"""Peak memory of one serving-api process under its heaviest load: 1,000-customer batches with
explanations at 8 connections, capture on, against the pod's memory limit.

    uv run python benchmarks/memory_bench.py [--model-dir artifacts/model] [--seconds 60]
        [--concurrency 8] [--rows 1000] [--limit-mib 384] [--slots 2,8]

Each ``--slots`` value is one fresh server with ``SERVING_MAX_CONCURRENT_BATCHES`` set to it
(how many explained or large batches run in worker threads at once), measured in the same run.

Reads the kernel's own peak (``VmHWM`` in /proc/PID/status: the most resident memory the
process ever had, not a sample that may miss a spike) after warm-up and after the load, and the
resident size once idle again. The pod's limit (infra/k8s/base/rollout.yaml) must sit above the
peak with room for the allocator's fragmentation; the script says how much room is left.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from load import load
from service import API_KEY, check_post, start_service, wait_ready
from serving_bench import ensure_bundle, sample_customers

from churn_testing import ServerProcess
from churn_testing.benchmarking import machine


def status_mib(process: ServerProcess, field: str) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} in /proc/{process.pid}/status")


def measure(model_dir: Path, body: bytes, slots: int, args: argparse.Namespace) -> dict:
    os.environ["SERVING_MAX_CONCURRENT_BATCHES"] = str(slots)
    capture = Path(tempfile.mkdtemp(prefix="memory-bench-capture-"))
    service = start_service(model_dir, capture)
    try:
        wait_ready(service, 120)
        url = f"{service.url}/predict/batch?explain=true"
        check_post(url, body, API_KEY)
        warm = status_mib(service, "VmHWM")
        result = load(url, [body], args.concurrency, args.seconds, API_KEY)
        peak = status_mib(service, "VmHWM")
        idle = status_mib(service, "VmRSS")
    finally:
        service.stop(60)
        shutil.rmtree(capture, ignore_errors=True)
    return {
        "max_concurrent_batches": slots,
        "requests": result.requests,
        "errors": result.errors,
        "p50_ms": round(result.p50_ms, 1),
        "peak_rss_mib_after_warm_up": round(warm, 1),
        "peak_rss_mib_under_load": round(peak, 1),
        "rss_mib_after_load": round(idle, 1),
        "headroom_pct": round(100 * (args.limit_mib - peak) / args.limit_mib, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--limit-mib", type=float, default=384.0)
    parser.add_argument("--slots", default="2,8", help="comma-separated values to compare")
    args = parser.parse_args()

    ensure_bundle(args.model_dir)
    body = json.dumps({"instances": sample_customers(args.rows)}).encode()
    runs = [measure(args.model_dir, body, int(n), args) for n in args.slots.split(",")]
    report = {
        "machine": machine(),
        "load": f"/predict/batch?explain=true, {args.rows} customers, c={args.concurrency}, "
        f"{args.seconds:g} s, capture on",
        "limit_mib": args.limit_mib,
        "runs": runs,
    }
    print(json.dumps(report, indent=2))
    first = runs[0]
    return 0 if first["errors"] == 0 and first["peak_rss_mib_under_load"] < args.limit_mib else 1


if __name__ == "__main__":
    raise SystemExit(main())
