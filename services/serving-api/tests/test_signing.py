"""Signed bundles on a real `serving-api` process: served only when a trusted key signed them.

A refused bundle never kills the server: it stays alive and /readyz answers 503 with the reason.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from churn_core.signing import TRUST_ENV, SignatureError
from churn_testing import ServerProcess
from churn_testing.signing import ATTACKS, attack, signed_copy

from .conftest import CUSTOMER, start_server, wait_failed

REASON = SignatureError.public_reason
# Importing model_signing (it pulls the whole sigstore client) takes seconds on a busy machine.
START_TIMEOUT = 120.0


@pytest.fixture
def signed(tmp_path: Path, bundle_dir: Path, signing_keys: dict) -> Path:
    return signed_copy(bundle_dir, tmp_path / "model", signing_keys["trusted"][0])


def _serve(bundle: Path, key: Path, tmp_path: Path) -> ServerProcess:
    return start_server(
        "--model-dir",
        str(bundle),
        "--capture-dir",
        str(tmp_path / "capture"),
        env={TRUST_ENV: str(key)},
    )


def test_valid_signature_is_served_and_shown(
    signed: Path, signing_keys: dict, tmp_path: Path
) -> None:
    server = _serve(signed, signing_keys["trusted"][1], tmp_path)
    try:
        server.wait_ready(START_TIMEOUT)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.post("/predict", json=CUSTOMER).status_code == 200
            signature = client.get("/v1/model").json()["signature"]
            assert signature["status"] == "verified" and signature["verified"] is True
            assert signature["key_fingerprint"].startswith("sha256:")
            v2 = client.get("/v2/models/churn").json()
            assert v2["parameters"]["signature"] == signature
            assert 'signed="true"' in client.get("/metrics").text
    finally:
        server.stop()


@pytest.mark.parametrize("name", ATTACKS)
def test_refused_bundle_keeps_the_server_up_and_unready(
    name: str, signed: Path, signing_keys: dict, tmp_path: Path
) -> None:
    key = attack(signed, name, signing_keys)
    server = _serve(signed, key, tmp_path)
    try:
        refused = wait_failed(server, START_TIMEOUT)
        assert refused.status_code == 503
        assert refused.json() == {"status": "failed", "reason": REASON}
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/healthz").status_code == 200
            assert client.post("/predict", json=CUSTOMER).status_code == 503
            assert client.get("/v2/health/ready").status_code == 503
    finally:
        server.stop()
        output = server.output()
    assert "no valid signature" in output or "not signed" in output
