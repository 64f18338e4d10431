"""The SageMaker BYOC image, started the way SageMaker starts it: `docker run IMAGE serve`
with the extracted model.tar.gz (bundle + code/inference.py) at /opt/ml/model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import world_readable
from .support import assert_lean_non_root, running, stop_with_sigterm

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def model_dir(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sagemaker_handler.packaging import extract_tarball, package_model

    scratch = tmp_path_factory.mktemp("sagemaker")
    package_model(bundle_dir, scratch / "model.tar.gz")
    return world_readable(extract_tarball(scratch / "model.tar.gz", scratch / "model"))


def test_invocations_in_json_and_csv_refusals_and_sigterm(
    image, model_dir: Path, customers: list[dict[str, Any]], predictor
) -> None:
    volumes = [(model_dir, "/opt/ml/model", "ro")]
    with running(image("sagemaker-handler"), 8080, "/ping", volumes) as service:
        api = httpx.Client(base_url=service.url, timeout=30)

        one = api.post("/invocations", json=customers[0])
        assert one.status_code == 200, one.text
        expected = predictor.predict([customers[0]])[0]
        got = one.json()["predictions"][0]
        assert got["churn_probability"] == pytest.approx(expected.churn_probability, abs=1e-9)
        assert got["churn_prediction"] == expected.churn_prediction

        explained = api.post(
            "/invocations", json={"instances": customers, "parameters": {"explain": True}}
        ).json()["predictions"]
        assert len(explained) == len(customers)
        for p in explained:
            total = p["base_value"] + sum(p["feature_contributions"].values())
            assert total == pytest.approx(p["churn_probability"], abs=1e-6)

        row = ",".join(str(customers[0][name]) for name in customers[0])
        as_csv = api.post(
            "/invocations",
            content=row,
            headers={"content-type": "text/csv", "accept": "text/csv"},
        )
        assert as_csv.status_code == 200, as_csv.text
        assert float(as_csv.text.split(",")[0]) == pytest.approx(
            expected.churn_probability, abs=1e-9
        )

        bad = api.post("/invocations", json={**customers[0], "CreditScore": 10})
        assert bad.status_code == 400
        assert "CreditScore" in bad.text
        unsupported = api.post(
            "/invocations", content="x", headers={"content-type": "application/x-image"}
        )
        assert unsupported.status_code == 415

        assert_lean_non_root(service)
        assert stop_with_sigterm(service) == 0, service.logs()[-3000:]
