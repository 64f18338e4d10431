"""The three serving paths as real processes on loopback, each with the same bundle.

Each server is started by its console script from the test environment, which is the program
`uv run --package <service> <service> ...` runs (without uv's start-up and sync check).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from churn_testing import ServerProcess, free_port

BIN = Path(sys.executable).parent
START_TIMEOUT = 120.0


@dataclass
class ServingPath:
    """One serving path: how to start it, where it is ready, how to wrap customers."""

    name: str
    ready: str
    route: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def body(self, customers: list[dict[str, Any]], explain: bool) -> tuple[str, dict, dict]:
        """(route, query params, JSON body) of a prediction request for these customers."""
        if self.name == "serving-api":
            params = {"explain": "true"} if explain else {}
            return "/predict/batch", params, {"instances": customers}
        return self.route, {}, {"instances": customers, "parameters": {"explain": explain}}

    def predict(
        self, client: httpx.Client, customers: list[dict[str, Any]], explain: bool
    ) -> list[dict[str, Any]]:
        route, params, body = self.body(customers, explain)
        response = client.post(self.url + route, params=params, json=body)
        assert response.status_code == 200, f"{self.name}: {response.status_code} {response.text}"
        return response.json()["predictions"]


def commands(bundle: Path, tarball: Path, capture: Path, ports: dict[str, int]) -> dict:
    host = ["--host", "127.0.0.1"]
    return {
        "serving-api": [
            str(BIN / "serving-api"),
            *("--model-dir", str(bundle), "--capture-dir", str(capture)),
            *host,
            *("--port", str(ports["serving-api"])),
        ],
        "sagemaker-handler": [
            str(BIN / "sagemaker-handler"),
            *("serve", "--model", str(tarball)),
            *host,
            *("--port", str(ports["sagemaker-handler"])),
        ],
        "vertex-predictor": [
            str(BIN / "vertex-predictor"),
            *("serve", "--model-dir", str(bundle)),
            *host,
            *("--port", str(ports["vertex-predictor"])),
        ],
    }


@pytest.fixture(scope="session")
def servers(
    bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServingPath]]:
    """All three servers, started together and stopped with SIGTERM at the end."""
    from sagemaker_handler.packaging import package_model

    scratch = tmp_path_factory.mktemp("servers")
    tarball = scratch / "model.tar.gz"
    package_model(bundle_dir, tarball)  # what SageMaker would be given
    paths = [
        ServingPath("serving-api", "/readyz", "/predict/batch", free_port()),
        ServingPath("sagemaker-handler", "/ping", "/invocations", free_port()),
        ServingPath("vertex-predictor", "/health", "/predict", free_port()),
    ]
    argv = commands(bundle_dir, tarball, scratch / "capture", {p.name: p.port for p in paths})
    with contextlib.ExitStack() as running:
        started = [
            running.enter_context(ServerProcess(argv[p.name], p.url, p.ready, name=p.name))
            for p in paths
        ]
        for server in started:
            server.wait_ready(START_TIMEOUT)
        yield paths
