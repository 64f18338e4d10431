"""The three serving paths as real processes on loopback, each with the same bundle.

Each server is started by its console script from the test environment, which is the program
`uv run --package <service> <service> ...` runs (without uv's start-up and sync check).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from churn_testing import ServerProcess, free_port
from churn_testing.paths import SERVING_PATHS, ServingPath

START_TIMEOUT = (
    300.0  # the Vertex CPR server imports all of aiplatform: ~15 s idle, minutes under load
)


@dataclass
class RunningPath:
    """A serving path started on a port."""

    path: ServingPath
    port: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def predict(
        self, client: httpx.Client, customers: list[dict[str, Any]], explain: bool
    ) -> list[dict[str, Any]]:
        route, params, body = self.path.batch(customers, explain)
        response = client.post(self.url + route, params=params, json=body)
        assert response.status_code == 200, f"{self.name}: {response.status_code} {response.text}"
        return response.json()["predictions"]


@pytest.fixture(scope="session")
def servers(
    bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[RunningPath]]:
    """All three servers, started together and stopped with SIGTERM at the end."""
    from sagemaker_handler.packaging import package_model

    scratch = tmp_path_factory.mktemp("servers")
    tarball = scratch / "model.tar.gz"
    package_model(bundle_dir, tarball)  # what SageMaker would be given
    running = [RunningPath(path, free_port()) for path in SERVING_PATHS]
    with contextlib.ExitStack() as stack:
        started = [
            stack.enter_context(
                ServerProcess(
                    p.path.argv(bundle_dir, tarball, p.port, capture_dir=scratch / "capture"),
                    p.url,
                    p.path.ready,
                    name=p.name,
                )
            )
            for p in running
        ]
        for server in started:
            server.wait_ready(START_TIMEOUT)
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client
