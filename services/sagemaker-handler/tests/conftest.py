from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from smh_helpers import RunningServer, start_serve, wait_ready

from churn_core.testing import free_port


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from churn_core.training import train

    return train(tmp_path_factory.mktemp("bundle") / "model", quick=True, rows=3000, seed=7)


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
def predictor(bundle_dir: Path) -> Any:
    from churn_core import Predictor

    return Predictor.from_bundle(bundle_dir)


@pytest.fixture(scope="session")
def customers() -> list[dict[str, Any]]:
    from churn_core.data import generate
    from churn_core.schema import FEATURE_NAMES

    frame = generate(40, seed=11)[list(FEATURE_NAMES)]
    return frame.to_dict(orient="records")


@pytest.fixture(scope="session")
def server(tarball: Path) -> Iterator[RunningServer]:
    """`sagemaker-handler serve` as its own process, port from SAGEMAKER_BIND_TO_PORT."""
    port = free_port()
    started = time.perf_counter()
    process = start_serve(
        tarball, port, env={"SAGEMAKER_BIND_TO_PORT": str(port)}, use_port_flag=False
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, url)
        yield RunningServer(process, url, time.perf_counter() - started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
