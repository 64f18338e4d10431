from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from churn_core import Predictor
from churn_testing import ServerProcess, free_port
from serving_api.app import create_app
from serving_api.config import Settings

CUSTOMER = {
    "CreditScore": 650,
    "Geography": "Germany",
    "Gender": "Female",
    "Age": 47,
    "Tenure": 3,
    "Balance": 120000.5,
    "NumOfProducts": 1,
    "HasCrCard": 1,
    "IsActiveMember": 0,
    "EstimatedSalary": 50000.0,
}
# One customer and a batch of three, for the V2 client tests.
CUSTOMERS = [
    CUSTOMER,
    {**CUSTOMER, "Geography": "Spain", "Gender": "Male", "Age": 30, "Balance": 0.0},
    {**CUSTOMER, "Geography": "France", "NumOfProducts": 3, "IsActiveMember": 1},
]
KEY = "v2-test-key"


@pytest.fixture
def settings(tmp_path: Path, bundle_dir: Path) -> Settings:
    return Settings(model_dir=bundle_dir, capture_dir=tmp_path / "capture", warmup_rounds=1)


@pytest.fixture
def client(settings: Settings, predictor: Predictor) -> Iterator[TestClient]:
    app = create_app(settings, predictor=predictor)
    with TestClient(app) as test_client:
        assert app.state.service.wait_ready(30)
        yield test_client


@pytest.fixture
def make_client(predictor: Predictor, tmp_path: Path):
    """A ready TestClient for an app with some settings changed."""
    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        overrides.setdefault("capture_dir", tmp_path / "capture")
        settings = Settings(warmup_rounds=1, **overrides)  # type: ignore[arg-type]
        app = create_app(settings, predictor=predictor)
        test_client = TestClient(app).__enter__()
        clients.append(test_client)
        assert app.state.service.wait_ready(30)
        return test_client

    yield make
    for test_client in clients:
        test_client.__exit__(None, None, None)


def start_server(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
    """A real `serving-api` process (uvicorn) on a loopback port; ready on /readyz. ``env`` is
    added to this process's environment."""
    port = free_port()
    command = [sys.executable, "-m", "serving_api", "--port", str(port), *args]
    return ServerProcess(
        command,
        f"http://127.0.0.1:{port}",
        "/readyz",
        env={**os.environ, **(env or {})},
        name="serving-api",
    )


def wait_failed(server: ServerProcess, timeout: float = 120.0) -> httpx.Response:
    """The /readyz answer once the model failed to load; the process must stay up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, "a failed load must not stop the server"
        try:
            response = httpx.get(f"{server.url}/readyz", timeout=1)
            if response.json().get("status") == "failed":
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("server never reported the failed load")


class Served:
    """A real server with gRPC on: its REST URL, gRPC address and capture folder."""

    def __init__(self, server: ServerProcess, grpc_port: int, capture: Path) -> None:
        self.server = server
        self.url = server.url
        self.grpc_address = f"127.0.0.1:{grpc_port}"
        self.capture = capture


def serve(tmp: Path, bundle_dir: Path, env: dict[str, str] | None = None) -> Served:
    """`serving-api --grpc-port` with capture on, ready."""
    grpc_port = free_port()
    capture = tmp / "capture"
    server = start_server(
        "--model-dir", str(bundle_dir), "--capture-dir", str(capture),
        "--grpc-port", str(grpc_port),
        env=env,
    )  # fmt: skip
    server.wait_ready(120)
    return Served(server, grpc_port, capture)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path) -> Iterator[Served]:
    s = serve(tmp_path_factory.mktemp("v2-clients"), bundle_dir)
    yield s
    s.server.stop()


def v1(
    served: Served, customers: list[dict[str, Any]], key: str | None = None
) -> list[dict[str, Any]]:
    """POST /predict for each customer: the reference answers (parsed, floats exact)."""
    headers = {"x-api-key": key} if key else {}
    with httpx.Client(base_url=served.url, timeout=10, headers=headers) as client:
        return [client.post("/predict", json=c).json() for c in customers]


@pytest.fixture
def copy_bundle(tmp_path: Path, bundle_dir: Path):
    def copy() -> Path:
        target = tmp_path / "bundle-copy"
        shutil.copytree(bundle_dir, target)
        return target

    return copy
