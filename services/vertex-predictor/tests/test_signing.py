"""Signed bundles on the Vertex path: the gs:// bundle is verified after download.

`vertex-predictor serve` runs aiplatform's CprModelServer; the bundle comes from the storage
emulator as on Vertex (AIP_STORAGE_URI). A refused bundle keeps the server up, unhealthy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from churn_core.samples import SAMPLE_CUSTOMERS
from churn_core.signing import TRUST_ENV, SignatureError
from churn_testing.signing import ATTACKS, attack, signed_copy
from vertex_predictor.storage import upload_dir

from .cpr_process import start_server

pytestmark = pytest.mark.slow

REASON = SignatureError.public_reason
# aiplatform and model_signing (the sigstore client) import slowly on a busy machine.
START = 300.0


def _upload(bundle: Path, name: str, model_bucket: str) -> str:
    uri = f"gs://{model_bucket}/signing/{name}"
    upload_dir(bundle, uri)
    return uri


@pytest.fixture
def signed(tmp_path: Path, bundle_dir: Path, signing_keys: dict) -> Path:
    return signed_copy(bundle_dir, tmp_path / "model", signing_keys["trusted"][0])


def test_valid_signature_from_gcs_is_served(
    signed: Path, signing_keys: dict, gcs_emulator: str, model_bucket: str
) -> None:
    uri = _upload(signed, "valid", model_bucket)
    server = start_server(
        [], env={"AIP_STORAGE_URI": uri, TRUST_ENV: str(signing_keys["trusted"][1])}, timeout=START
    )
    try:
        status, body = server.post("/predict", {"instances": SAMPLE_CUSTOMERS[:2]})
        assert status == 200 and len(body["predictions"]) == 2
        assert "signature verified by sha256:" in server.output()
    finally:
        server.stop()


@pytest.mark.parametrize("name", ATTACKS)
def test_refused_gcs_bundle_keeps_the_server_up_and_unhealthy(
    name: str, signed: Path, signing_keys: dict, gcs_emulator: str, model_bucket: str
) -> None:
    key = attack(signed, name, signing_keys)
    uri = _upload(signed, name.replace(" ", "-"), model_bucket)
    server = start_server(
        [], env={"AIP_STORAGE_URI": uri, TRUST_ENV: str(key)}, healthy=False, timeout=START
    )
    try:
        status, body = server.get("/health")
        assert (status, json.loads(body)) == (503, {"status": "failed", "reason": REASON})
        status, body = server.post("/predict", {"instances": SAMPLE_CUSTOMERS[:1]})
        assert (status, body) == (503, {"detail": REASON})
        assert server.process.poll() is None
        assert "SignatureError" in server.output()
    finally:
        server.stop()
