"""A/B variants, traffic shifts and guarded (canary / linear) rollouts against a real moto
server on loopback, parameters checked as sent (the Recorder) and as stored (describe_*).

moto 5 does not model UpdateEndpoint (nor its DeploymentConfig: no traffic shift, no bake, no
alarm watching, no rollback) nor ListMonitoringSchedules / DeleteMonitoringSchedule: the
Recorder answers those calls and records their exact parameters. Everything else here
(models, endpoint configs, endpoints, UpdateEndpointWeightsAndCapacities, CloudWatch alarms,
Application Auto Scaling) is moto's real implementation.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest

from sagemaker_handler.deploy.alarms import AlarmSettings
from sagemaker_handler.deploy.client import AwsOps, DeployError
from sagemaker_handler.deploy.endpoint import EndpointSettings, deploy
from sagemaker_handler.deploy.rollout import RolloutSettings
from sagemaker_handler.deploy.teardown import delete
from sagemaker_handler.deploy.traffic import parse_weights

from .moto_helpers import BUCKET, REGION, Recorder, recorded_cli, run

pytestmark = pytest.mark.usefixtures("fake_credentials")


def _recorded_ops(moto_url: str) -> tuple[Recorder, AwsOps]:
    recorder = Recorder()
    recorder.answer("UpdateEndpoint", {"EndpointArn": "arn:aws:sagemaker:::endpoint/x"})
    recorder.answer("ListMonitoringSchedules", {"MonitoringScheduleSummaries": []})
    ops = AwsOps(REGION, moto_url, session=recorder.session, out=io.StringIO(), sleep=lambda s: 0)
    return recorder, ops


def test_ab_variants_traffic_status_and_delete(
    moto_url: str, aws: dict[str, Any], tarball: Path, capsys, monkeypatch
):
    endpoint = "churn-ab"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    recorder = recorded_cli(monkeypatch)
    recorder.answer("ListMonitoringSchedules", {"MonitoringScheduleSummaries": []})
    code, out = run(
        ["deploy", "--endpoint-name", endpoint, "--model", str(tarball), "--candidate",
         str(tarball), "--candidate-percent", "20", "--role-arn", aws["role_arn"],
         "--bucket", BUCKET, "--poll", "0.01"],
        capsys,
    )  # fmt: skip
    assert code == 0, out
    config_name = recorder.only("CreateEndpointConfig")["EndpointConfigName"]
    sent = recorder.only("CreateEndpointConfig")["ProductionVariants"]
    assert sent == [
        {"VariantName": "A", "ModelName": f"{config_name}-a", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 80.0},
        {"VariantName": "B", "ModelName": f"{config_name}-b", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 20.0},
    ]  # fmt: skip
    created = [p["ModelName"] for _, op, p in recorder.calls if op == "CreateModel"]
    assert created == [f"{config_name}-a", f"{config_name}-b"]
    sm = aws["sagemaker"]
    live = sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"]
    assert {v["VariantName"]: v["CurrentWeight"] for v in live} == {"A": 80.0, "B": 20.0}

    model_b = sm.describe_model(ModelName=f"{config_name}-b")
    tags = sm.list_tags(ResourceArn=model_b["ModelArn"])["Tags"]
    version = {t["Key"]: t["Value"] for t in tags}["churn:model-version"]
    code, out = run(["status", "--endpoint-name", endpoint], capsys)
    assert code == 0
    assert (
        f"variant A: weight 80 (80%), 1/1 instances, model {config_name}-a, model_version {version}"
    ) in out
    assert f"variant B: weight 20 (20%), 1/1 instances, model {config_name}-b" in out

    recorder.calls.clear()
    code, out = run(["traffic", "--endpoint", endpoint, "--weights", "A=0,B=100"], capsys)
    assert code == 0, out
    assert recorder.only("UpdateEndpointWeightsAndCapacities") == {
        "EndpointName": endpoint,
        "DesiredWeightsAndCapacities": [
            {"VariantName": "A", "DesiredWeight": 0.0},
            {"VariantName": "B", "DesiredWeight": 100.0},
        ],
    }
    live = sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"]
    assert {v["VariantName"]: v["CurrentWeight"] for v in live} == {"A": 0.0, "B": 100.0}

    code = cli_error(["traffic", "--endpoint", endpoint, "--weights", "A=50,C=50"], capsys)
    assert "has no variant C (it has A, B)" in code

    aws["application-autoscaling"].register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=f"endpoint/{endpoint}/variant/B",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1, MaxCapacity=2,
    )  # fmt: skip
    code, out = run(["delete", "--endpoint-name", endpoint], capsys)
    assert code == 0, out
    for name in (f"{config_name}-a", f"{config_name}-b"):
        assert f"delete_model: {name}" in out
    assert f"deregister_scalable_target: endpoint/{endpoint}/variant/B" in out
    assert not sm.list_models(NameContains=endpoint)["Models"]


def cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from sagemaker_handler import cli

    assert cli.main(argv) == 1
    return capsys.readouterr().err


def test_canary_rollout_sends_deployment_config_and_creates_alarms(
    moto_url: str, aws: dict[str, Any], tarball: Path
):
    endpoint = "churn-canary"
    recorder, ops = _recorded_ops(moto_url)
    settings = EndpointSettings(endpoint, aws["role_arn"], BUCKET, poll_s=0.01)
    first = deploy(ops, tarball, settings)
    time.sleep(1.1)  # names carry a one-second timestamp
    recorder.calls.clear()
    rollout = RolloutSettings(
        "canary", canary_percent=10, bake_s=300,
        alarms=AlarmSettings(max_5xx_errors=2, max_latency_ms=250, period_s=30,
                             evaluation_periods=3),
    )  # fmt: skip
    # moto keeps the endpoint on its old config (it has no UpdateEndpoint): exactly what an
    # endpoint looks like after SageMaker rolled back, and deploy must say so.
    with pytest.raises(DeployError, match=f"rolled back: it serves {first['endpoint_config']}"):
        deploy(ops, tarball, settings, rollout=rollout)
    update = recorder.only("UpdateEndpoint")
    assert update["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 300,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            }
        },
        "AutoRollbackConfiguration": {
            "Alarms": [
                {"AlarmName": f"{endpoint}-AllTraffic-invocation-5xx-errors"},
                {"AlarmName": f"{endpoint}-AllTraffic-model-latency"},
            ]
        },
    }
    ops_order = recorder.operations()
    assert ops_order.index("PutMetricAlarm") < ops_order.index("UpdateEndpoint")
    stored = aws["cloudwatch"].describe_alarms(AlarmNamePrefix=endpoint)["MetricAlarms"]
    by_metric = {a["MetricName"]: a for a in stored}
    dims = [
        {"Name": "EndpointName", "Value": endpoint},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    errors, latency = by_metric["Invocation5XXErrors"], by_metric["ModelLatency"]
    for alarm in (errors, latency):
        assert alarm["Namespace"] == "AWS/SageMaker"
        assert alarm["Dimensions"] == dims
        assert (alarm["Period"], alarm["EvaluationPeriods"]) == (30, 3)
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
    assert (errors["Statistic"], errors["Threshold"]) == ("Sum", 2.0)
    assert (latency["Statistic"], latency["Threshold"]) == ("Average", 250_000.0)  # µs

    aws["cloudwatch"].put_metric_alarm(
        AlarmName=f"{endpoint}-team-owned", MetricName="CPUUtilization", Namespace="AWS/SageMaker",
        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=90.0,
        ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}],
    )  # fmt: skip
    removed = delete(ops, endpoint)
    assert f"alarm {endpoint}-AllTraffic-invocation-5xx-errors" in removed
    left = aws["cloudwatch"].describe_alarms(AlarmNamePrefix=endpoint)["MetricAlarms"]
    assert [a["AlarmName"] for a in left] == [f"{endpoint}-team-owned"]  # not ours: kept
    assert delete(ops, endpoint) == []  # idempotent


def test_linear_rollout_takes_existing_alarms_by_name(
    moto_url: str, aws: dict[str, Any], tarball: Path
):
    endpoint = "churn-linear"
    aws["cloudwatch"].put_metric_alarm(
        AlarmName="team-churn-errors", MetricName="Invocation5XXErrors", Namespace="AWS/SageMaker",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    recorder, ops = _recorded_ops(moto_url)
    settings = EndpointSettings(endpoint, aws["role_arn"], BUCKET, wait=False)
    deploy(ops, tarball, settings)
    time.sleep(1.1)
    recorder.calls.clear()
    linear = RolloutSettings(
        "linear", linear_step_percent=25, bake_s=120,
        alarms=AlarmSettings(existing=["team-churn-errors"]),
    )  # fmt: skip
    deploy(ops, tarball, settings, rollout=linear)
    assert recorder.only("UpdateEndpoint")["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 120,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
            }
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "team-churn-errors"}]},
    }
    assert "PutMetricAlarm" not in recorder.operations()
    missing = RolloutSettings("linear", alarms=AlarmSettings(existing=["no-such-alarm"]))
    with pytest.raises(DeployError, match="no CloudWatch alarm named no-such-alarm"):
        deploy(ops, tarball, settings, rollout=missing)
    delete(ops, endpoint)
    names = [a["AlarmName"] for a in aws["cloudwatch"].describe_alarms()["MetricAlarms"]]
    assert "team-churn-errors" in names  # taken by name, so not deleted


@pytest.mark.parametrize(
    ("text", "message"),
    [("A=90,B=20", "add up to 100"), ("A=90,B", "VARIANT=PERCENT"), ("A=50,A=50", "twice"),
     ("A=-5,B=105", "VARIANT=PERCENT")],
)  # fmt: skip
def test_weights_are_checked_before_any_call(text: str, message: str):
    with pytest.raises(DeployError, match=message):
        parse_weights(text)
    assert parse_weights("A=90, B=10") == {"A": 90, "B": 10}


def test_dry_run_prints_traffic_and_delete_calls(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens
    code, out = run(["traffic", "--dry-run", "--endpoint", "e", "--weights", "A=90,B=10"], capsys)
    assert code == 0
    assert "[dry-run] sagemaker.update_endpoint_weights_and_capacities(" in out
    assert '"DesiredWeight": 90.0' in out
    code, out = run(["delete", "--dry-run", "--endpoint-name", "e"], capsys)
    assert code == 0
    expected = (
        "cloudwatch.describe_alarms",
        "sagemaker.list_monitoring_schedules",
        "application-autoscaling.describe_scalable_targets",
        "sagemaker.delete_endpoint",
    )
    for call in expected:
        assert f"[dry-run] {call}(" in out
