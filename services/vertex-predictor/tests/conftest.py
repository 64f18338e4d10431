from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from churn_testing import free_port

from .cpr_process import CprServer, start_server
from .fake_vertex_api import FakeVertexApi

MODEL_BUCKET = "churn-models"


@pytest.fixture(scope="session")
def model_bucket() -> str:
    return MODEL_BUCKET


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """gcp-storage-emulator on loopback; google-cloud-storage follows STORAGE_EMULATOR_HOST."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=MODEL_BUCKET)
    server.start()
    url = f"http://127.0.0.1:{port}"
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = url
    try:
        yield url
    finally:
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
        server.stop()


@pytest.fixture(scope="session")
def gcs_bundle_uri(gcs_emulator: str, bundle_dir: Path) -> str:
    from vertex_predictor.storage import upload_dir

    uri = f"gs://{MODEL_BUCKET}/fixtures/churn"
    upload_dir(bundle_dir, uri)
    return uri


@pytest.fixture
def fake_vertex() -> Iterator[FakeVertexApi]:
    with FakeVertexApi() as api:
        yield api


@pytest.fixture(scope="session")
def cpr_server(bundle_dir: Path) -> Iterator[CprServer]:
    with start_server(["--model-dir", str(bundle_dir)]) as server:
        yield server
