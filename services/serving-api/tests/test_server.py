"""A real `serving-api` process on a loopback port: start-up, readiness, SIGTERM and capture."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import CUSTOMER, start_server, wait_failed


def _captured(directory: Path) -> list[dict]:
    records = []
    for path in sorted(directory.glob("*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


def test_sigterm_loses_no_captured_prediction(tmp_path: Path, bundle_dir: Path) -> None:
    capture = tmp_path / "capture"
    server = start_server("--model-dir", str(bundle_dir), "--capture-dir", str(capture))
    try:
        server.wait_ready()
        request_ids = []
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for i in range(150):
                response = client.post("/predict", json={**CUSTOMER, "Age": 18 + i % 70})
                assert response.status_code == 200
                request_ids.append(response.headers["x-request-id"])
            for _ in range(10):
                response = client.post("/predict/batch", json={"instances": [CUSTOMER] * 5})
                assert response.status_code == 200
                request_ids += [response.headers["x-request-id"]] * 5
            # Rejected requests are not predictions and are not captured.
            assert client.post("/predict", json={**CUSTOMER, "Age": 5}).status_code == 422
    finally:
        code, output = server.stop(), server.output()
    assert code in (0, -signal.SIGTERM), output
    records = _captured(capture)
    assert len(records) == 200
    assert sorted(r["request_id"] for r in records) == sorted(request_ids)
    assert {r["features"]["Age"] for r in records[:150]} == {18 + i % 70 for i in range(150)}
    log_lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    closing = [line for line in log_lines if line["message"] == "capture closed"]
    assert closing and closing[0]["records_written"] == 200


def test_ready_lean_and_json_logs(tmp_path: Path, bundle_dir: Path) -> None:
    server = start_server(
        "--model-dir", str(bundle_dir), "--capture-dir", str(tmp_path / "c"), "--access-log"
    )
    try:
        # How fast it gets ready is the benchmark's figure (benchmarks/paths_bench.py), not a
        # test's: a timing bound here fails on a loaded machine and proves nothing on an idle one.
        server.wait_ready(120)
        explain = httpx.post(f"{server.url}/predict?explain=true", json=CUSTOMER, timeout=10)
        assert explain.status_code == 200
        maps = Path(f"/proc/{server.process.pid}/maps")
        if maps.exists():
            loaded = maps.read_text()
            for library in ("sklearn", "pandas", "shap", "evidently", "pyarrow"):
                assert f"/{library}/" not in loaded, f"{library} is loaded in the server"
    finally:
        server.stop()
        output = server.output()
    lines = [line for line in output.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is JSON
    access = [p for p in parsed if p.get("logger") == "serving_api.access"]
    assert any(p["route"] == "/predict" and p["status"] == 200 and p["request_id"] for p in access)
    # The loaded heap is frozen out of garbage collection once ready (churn_core/heap.py).
    [ready] = [p for p in parsed if p.get("message") == "model ready"]
    assert ready["frozen_objects"] > 10_000


@pytest.mark.slow
def test_two_workers_share_metrics_and_capture(tmp_path: Path, bundle_dir: Path) -> None:
    capture = tmp_path / "capture"
    server = start_server(
        "--model-dir", str(bundle_dir), "--capture-dir", str(capture), "--workers", "2"
    )
    try:
        server.wait_ready(60)
        # Each worker loads and warms its own model; serving_model_ready is the minimum over
        # the live workers in multiprocess mode.
        for _ in range(600):
            if "serving_model_ready 1.0" in httpx.get(f"{server.url}/metrics").text:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("not every worker became ready")
        with httpx.Client(base_url=server.url, timeout=10) as client:
            # A new connection per request spreads them over both workers.
            for _ in range(40):
                with httpx.Client(base_url=server.url, timeout=10) as fresh:
                    assert fresh.post("/predict", json=CUSTOMER).status_code == 200
            text = client.get("/metrics").text
        line = next(
            s
            for s in text.splitlines()
            if s.startswith('serving_requests_total{method="POST",route="/predict",status="200"}')
        )
        assert float(line.split()[-1]) == 40
    finally:
        server.stop(60)
        output = server.output()
    assert len(_captured(capture)) == 40, output


def _run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "serving_api", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.mark.parametrize("problem", ["missing", "tampered"])
def test_missing_or_tampered_bundle_keeps_the_server_up_unready(
    problem: str, copy_bundle, tmp_path: Path
) -> None:
    bundle = tmp_path / "nope"
    if problem == "tampered":
        bundle = copy_bundle()
        with (bundle / "model.txt").open("a") as handle:
            handle.write("\n# tampered\n")
    server = start_server("--model-dir", str(bundle), "--capture-dir", str(tmp_path / "c"))
    try:
        failed = wait_failed(server)
        assert failed.status_code == 503
        assert failed.json() == {"status": "failed", "reason": "model bundle missing or invalid"}
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
        assert "serving_model_load_failed 1.0" in metrics.splitlines()
        assert "serving_model_ready 0.0" in metrics.splitlines()
    finally:
        server.stop()
        output = server.output()
    assert ("not found" if problem == "missing" else "checksum mismatch") in output


def test_bad_setting_exits_2() -> None:
    result = _run_cli("--port", "99999")
    assert result.returncode == 2
    assert "port" in result.stderr
