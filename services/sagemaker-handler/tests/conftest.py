from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from churn_testing import free_port

from .smh_helpers import HandlerServer, start_serve


@pytest.fixture(scope="session")
def core_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sagemaker_handler.packaging import build_core_wheel

    return build_core_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def tarball(tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path, core_wheel: Path) -> Path:
    from sagemaker_handler.packaging import package_model

    out = tmp_path_factory.mktemp("package") / "model.tar.gz"
    return package_model(bundle_dir, out, wheel=core_wheel).path


@pytest.fixture(scope="session")
def customers() -> list[dict[str, Any]]:
    from churn_core.data import generate
    from churn_core.schema import FEATURE_NAMES

    frame = generate(40, seed=11)[list(FEATURE_NAMES)]
    return frame.to_dict(orient="records")


@pytest.fixture(scope="session")
def server(tarball: Path) -> Iterator[HandlerServer]:
    """`sagemaker-handler serve` as its own process, port from SAGEMAKER_BIND_TO_PORT."""
    port = free_port()
    env = {"SAGEMAKER_BIND_TO_PORT": str(port)}
    with start_serve(tarball, port, env=env, use_port_flag=False) as server:
        server.wait_ready(90)
        yield server
