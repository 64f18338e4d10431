"""What moto cannot serve, checked with botocore's Stubber (real botocore parameter validation
against the service model, exact expected parameters): CreateMonitoringSchedule, and the waiter's
handling of endpoint states moto never reports (Creating, Failed)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from sagemaker_handler.deploy.client import AwsOps, DeployError
from sagemaker_handler.deploy.endpoint import EndpointSettings, wait_for_endpoint
from sagemaker_handler.deploy.monitor import monitor

ROLE = "arn:aws:iam::123456789012:role/churn-sagemaker"


@pytest.fixture
def ops(monkeypatch: pytest.MonkeyPatch) -> AwsOps:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # Any call the stubs do not answer would go here, and fail.
    return AwsOps("eu-west-1", "http://127.0.0.1:9", out=io.StringIO(), sleep=lambda s: None)


def test_monitor_sends_exact_parameters(ops: AwsOps, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sagemaker_handler.deploy.monitor.stamp", lambda: "20260101000000")
    settings = EndpointSettings("churn-endpoint", ROLE, "churn-models")
    results = "s3://churn-models/churn/sagemaker/monitoring/baseline/20260101000000"
    image = "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    cluster = {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
    with Stubber(ops.client("sagemaker")) as stub:
        stub.add_response(
            "create_processing_job", {"ProcessingJobArn": "arn:job"},
            {
                "ProcessingJobName": "churn-endpoint-baseline-20260101000000",
                "RoleArn": ROLE,
                "AppSpecification": {"ImageUri": image},
                "ProcessingResources": {"ClusterConfig": cluster},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                "Environment": ANY,
                "ProcessingInputs": [{
                    "InputName": "baseline_dataset_input",
                    "S3Input": {
                        "S3Uri": "s3://data/train.csv",
                        "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                        "S3DataType": "S3Prefix", "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    },
                }],
                "ProcessingOutputConfig": {"Outputs": [{
                    "OutputName": "monitoring_output",
                    "S3Output": {"S3Uri": results, "LocalPath": "/opt/ml/processing/output",
                                 "S3UploadMode": "EndOfJob"},
                }]},
            },
        )  # fmt: skip
        stub.add_response(
            "create_data_quality_job_definition", {"JobDefinitionArn": "arn:def"},
            {
                "JobDefinitionName": "churn-endpoint-data-quality-20260101000000",
                "DataQualityBaselineConfig": {
                    "ConstraintsResource": {"S3Uri": f"{results}/constraints.json"},
                    "StatisticsResource": {"S3Uri": f"{results}/statistics.json"},
                },
                "DataQualityAppSpecification": {"ImageUri": image},
                "DataQualityJobInput": {"EndpointInput": {
                    "EndpointName": "churn-endpoint",
                    "LocalPath": "/opt/ml/processing/input/endpoint",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                }},
                "DataQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {
                    "S3Uri": "s3://churn-models/churn/sagemaker/monitoring/reports",
                    "LocalPath": "/opt/ml/processing/output",
                    "S3UploadMode": "EndOfJob",
                }}]},
                "JobResources": {"ClusterConfig": cluster},
                "RoleArn": ROLE,
                "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
            },
        )  # fmt: skip
        stub.add_response(
            "create_monitoring_schedule", {"MonitoringScheduleArn": "arn:schedule"},
            {
                "MonitoringScheduleName": "churn-endpoint-data-quality",
                "MonitoringScheduleConfig": {
                    "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                    "MonitoringJobDefinitionName": "churn-endpoint-data-quality-20260101000000",
                    "MonitoringType": "DataQuality",
                },
            },
        )  # fmt: skip
        names = monitor(ops, settings, "s3://data/train.csv")
        stub.assert_no_pending_responses()
    assert names["schedule"] == "churn-endpoint-data-quality"


def describe(status: str, reason: str | None = None) -> dict[str, Any]:
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    body: dict[str, Any] = {
        "EndpointName": "churn-endpoint",
        "EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/churn-endpoint",
        "EndpointConfigName": "churn-endpoint-20260101000000",
        "EndpointStatus": status,
        "CreationTime": now,
        "LastModifiedTime": now,
    }
    if reason:
        body["FailureReason"] = reason
    return body


def test_waiter_reports_progress_and_the_failure_reason(ops: AwsOps):
    with Stubber(ops.client("sagemaker")) as stub:
        for status in ("Creating", "Creating", "Failed"):
            stub.add_response(
                "describe_endpoint",
                describe(status, "ping health check failed" if status == "Failed" else None),
                {"EndpointName": "churn-endpoint"},
            )
        with pytest.raises(DeployError, match="Failed: ping health check failed"):
            wait_for_endpoint(ops, "churn-endpoint", timeout_s=60, poll_s=1)
    lines = ops.out.getvalue().splitlines()
    assert [line.split(": ")[1].split(" ")[0] for line in lines] == ["Creating", "Failed"]


def test_waiter_is_bounded(ops: AwsOps):
    clock = iter(range(0, 10_000, 10))
    import sagemaker_handler.deploy.client as deploy_module

    with Stubber(ops.client("sagemaker")) as stub:
        for _ in range(3):
            stub.add_response("describe_endpoint", describe("Creating"))
        original = deploy_module.time.monotonic
        deploy_module.time.monotonic = lambda: float(next(clock))
        try:
            with pytest.raises(DeployError, match="still Creating after"):
                wait_for_endpoint(ops, "churn-endpoint", timeout_s=25, poll_s=10)
        finally:
            deploy_module.time.monotonic = original


def test_dry_run_monitor_prints_every_call(capsys: pytest.CaptureFixture[str]):
    ops = AwsOps("eu-west-1", dry_run=True)
    monitor(ops, EndpointSettings("churn-endpoint", ROLE, "churn-models"), "s3://data/train.csv")
    out = capsys.readouterr().out
    calls = [line.split("(")[0] for line in out.splitlines() if line.startswith("[dry-run]")]
    assert calls == [
        "[dry-run] sagemaker.create_processing_job",
        "[dry-run] sagemaker.create_data_quality_job_definition",
        "[dry-run] sagemaker.create_monitoring_schedule",
    ]
    first = out.split("create_processing_job(", 1)[1].split("\n[dry-run]", 1)[0]
    assert json.loads(first.rstrip().removesuffix(")"))["RoleArn"] == ROLE


def test_cli_defaults_match_the_deploy_module():
    from sagemaker_handler import cli_parser
    from sagemaker_handler.deploy import batch, monitor, rollout

    assert cli_parser.HOURLY == monitor.HOURLY
    assert set(cli_parser.BATCH_FORMATS) == set(batch.FORMATS)
    assert cli_parser.ROLLOUTS == rollout.ROLLOUTS
