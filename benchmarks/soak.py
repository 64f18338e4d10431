"""The soak: a fresh serving-api under load; errors, RSS over time, every answer captured.

    uv run python benchmarks/soak.py [--model-dir artifacts/model] [--seconds 600]
        [--concurrency 16]

serving_bench.py runs it for a minute as its last phase; alone, it prints the RSS every minute
too, so a slow leak shows as a slope rather than as one end-to-end ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from load import load
from service import API_KEY, rss_mb, start_service, wait_ready


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
        result = load(f"{service.url}/predict", bodies, concurrency, seconds, API_KEY)
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
    minutes = range(1, int(seconds // 60) + 1)
    per_minute = [round(next((mb for t, mb in rss if t >= 60 * m), end), 1) for m in minutes]
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
        "rss_mb_each_minute": per_minute,
        "exit_code": code,
    }


def main() -> int:
    from serving_bench import ensure_bundle, sample_customers

    from churn_testing.benchmarking import machine

    parser = argparse.ArgumentParser(description="serving-api under a long load, capture on")
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    ensure_bundle(args.model_dir)
    bodies = [json.dumps(c).encode() for c in sample_customers()]
    result = soak(args.model_dir, args.seconds, args.concurrency, bodies)
    print(json.dumps({"machine": machine(), **result}, indent=2))
    whole = result["captured_records"] == result["server_answered_200"] >= result["requests"]
    return 0 if result["errors"] == 0 and whole and result["capture_dropped"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
