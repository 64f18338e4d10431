from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from churn_core import Predictor
from churn_core.testing import free_port
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


@functools.cache
def shared_bundle() -> Path:
    """A small model bundle, trained once per test session (or given by SERVING_TEST_BUNDLE).

    A plain function rather than only a fixture: the schemathesis module needs it at collection.
    """
    given = os.environ.get("SERVING_TEST_BUNDLE")
    if given:
        return Path(given)
    from churn_core.training import train

    root = Path(tempfile.mkdtemp(prefix="serving-api-test-bundle-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return train(root / "model", quick=True, rows=4000)


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    return shared_bundle()


@pytest.fixture(scope="session")
def predictor(bundle_dir: Path) -> Predictor:
    return Predictor.from_bundle(bundle_dir)


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


class Server:
    """A real `serving-api` process (uvicorn) on a loopback port."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "serving_api", "--port", str(self.port), *args]
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Seconds from process start until /readyz answered 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise AssertionError("server not ready in time")

    def stop(self, timeout: float = 30.0) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM, as Kubernetes does
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output


@pytest.fixture
def copy_bundle(tmp_path: Path, bundle_dir: Path):
    def copy() -> Path:
        target = tmp_path / "bundle-copy"
        shutil.copytree(bundle_dir, target)
        return target

    return copy
