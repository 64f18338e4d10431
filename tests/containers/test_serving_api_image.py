"""The serving-api image with a mounted bundle and a mounted capture volume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import tritonclient.grpc as triton_grpc

from churn_testing.v2 import triton_inputs

from .support import assert_lean_non_root, running, stop_with_sigterm, writable_dir

pytestmark = pytest.mark.docker


@pytest.fixture
def capture_dir(tmp_path: Path) -> Path:
    return writable_dir(tmp_path / "capture")


def test_serves_explains_refuses_and_flushes_captures_on_sigterm(
    image, bundle_dir: Path, capture_dir: Path, customers: list[dict[str, Any]], predictor
) -> None:
    volumes = [(bundle_dir, "/models/churn", "ro"), (capture_dir, "/data/capture", "rw")]
    with running(image("serving-api"), 8000, "/readyz", volumes, other_ports=(8081,)) as service:
        api = httpx.Client(base_url=service.url, timeout=30)
        assert api.get("/healthz").status_code == 200
        assert api.get("/v1/model").json()["model_version"] == predictor.model_version

        one = api.post("/predict", json=customers[0])
        assert one.status_code == 200, one.text
        expected = predictor.predict([customers[0]])[0]
        assert one.json()["churn_probability"] == pytest.approx(
            expected.churn_probability, abs=1e-9
        )
        assert one.json()["risk_level"] == expected.risk_level

        explained = api.post("/predict", params={"explain": "true"}, json=customers[1]).json()
        contributions = explained["feature_contributions"]
        assert len(contributions) == 10
        total = explained["base_value"] + sum(contributions.values())
        assert total == pytest.approx(explained["churn_probability"], abs=1e-6)

        batch = api.post("/predict/batch", json={"instances": customers})
        assert batch.status_code == 200, batch.text
        assert len(batch.json()["predictions"]) == len(customers)

        # The image serves Open Inference Protocol V2 over gRPC on 8081 (the grpc extra).
        over_grpc = triton_grpc.InferenceServerClient(service.address(8081))
        assert over_grpc.is_model_ready("churn")
        result = over_grpc.infer("churn", triton_inputs(triton_grpc, [customers[0]]))
        assert result.as_numpy("churn_probability").tolist() == [one.json()["churn_probability"]]

        bad = api.post("/predict", json={**customers[0], "Age": 150})
        assert bad.status_code == 422
        assert "Age" in bad.text
        assert "Traceback" not in bad.text

        assert_lean_non_root(service)
        assert stop_with_sigterm(service) == 0, service.logs()[-3000:]

    # Everything accepted is on the volume after SIGTERM: 1 + 1 + 1 (gRPC) + len(customers).
    records = [
        json.loads(line)
        for path in sorted(capture_dir.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    assert len(records) == 3 + len(customers)
    assert {r["model_version"] for r in records} == {predictor.model_version}
    assert all(r["request_id"] for r in records)
    captured = {json.dumps(r["features"], sort_keys=True) for r in records}
    assert json.dumps(customers[0], sort_keys=True) in captured
