"""The soak: a fresh serving-api loaded for a minute; errors, RSS growth, every answer captured."""

from __future__ import annotations

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
