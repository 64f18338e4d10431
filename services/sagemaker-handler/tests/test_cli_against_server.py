"""`sagemaker-handler test` through boto3's sagemaker-runtime client, against the local server
(which also answers sagemaker-runtime's /endpoints/<name>/invocations path)."""

from __future__ import annotations

import pytest

from churn_core.samples import SAMPLE_CUSTOMERS
from sagemaker_handler import cli
from sagemaker_handler.deploy.client import AwsOps
from sagemaker_handler.deploy.invoke import invoke


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.mark.parametrize("content_type", ["application/json", "text/csv"])
def test_test_command_invokes_through_boto3(server, predictor, capsys, content_type):
    code = cli.main(["test", "--endpoint-url", server.url, "--content-type", content_type])
    out = capsys.readouterr().out
    assert code == 0
    expected = predictor.predict(SAMPLE_CUSTOMERS)
    lines = out.strip().splitlines()
    assert len(lines) == len(SAMPLE_CUSTOMERS)
    for line, prediction in zip(lines, expected, strict=True):
        assert f"p={prediction.churn_probability:.4f} {prediction.risk_level}" in line


def test_invoke_with_explain_attribute(server, predictor):
    ops = AwsOps("eu-west-1", server.url)
    predictions = invoke(ops, "churn-endpoint", SAMPLE_CUSTOMERS, explain=True)
    for served, direct in zip(predictions, predictor.predict(SAMPLE_CUSTOMERS), strict=True):
        assert abs(served["churn_probability"] - direct.churn_probability) <= 1e-9
        total = served["base_value"] + sum(served["feature_contributions"].values())
        assert abs(total - served["churn_probability"]) <= 1e-6


def test_target_variant_goes_out_as_the_sagemaker_header(server):
    """`test --target-variant B`: boto3 sends X-Amzn-SageMaker-Target-Variant (which real
    SageMaker routes on; the local server answers whatever the variant)."""
    import boto3

    session = boto3.Session(region_name="eu-west-1")
    sent: list[dict[str, str]] = []
    session.events.register(
        "before-send.sagemaker-runtime.InvokeEndpoint",
        lambda request, **_: sent.append(dict(request.headers)),
    )
    ops = AwsOps("eu-west-1", server.url, session=session)
    predictions = invoke(ops, "churn-endpoint", SAMPLE_CUSTOMERS, target_variant="B")
    assert len(predictions) == len(SAMPLE_CUSTOMERS)
    (headers,) = sent
    assert headers["X-Amzn-SageMaker-Target-Variant"] == b"B"
