"""CloudWatch alarms that guard a canary or linear rollout: SageMaker watches them during
the traffic shift and its bake time and rolls back to the old fleet when one fires.

The tooling creates one alarm per variant on Invocation5XXErrors (sum per period) and one on
ModelLatency (average, which CloudWatch reports in microseconds), or takes existing alarms by
name. Only the alarms it created (named ``<endpoint>-<variant>-invocation-5xx-errors`` and
``…-model-latency``) are removed by ``delete``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagemaker_handler.deploy.client import AwsOps, DeployError

NAMESPACE = "AWS/SageMaker"
ERRORS_SUFFIX, LATENCY_SUFFIX = "-invocation-5xx-errors", "-model-latency"


@dataclass
class AlarmSettings:
    max_5xx_errors: float = 0.0  # more than this many 5xx answers in a period fires
    max_latency_ms: float = 500.0  # average model latency above this fires
    period_s: int = 60
    evaluation_periods: int = 2
    existing: list[str] = field(default_factory=list)  # take these by name, create none


def alarm_definitions(
    endpoint_name: str, variants: list[str], settings: AlarmSettings
) -> list[dict[str, Any]]:
    """The PutMetricAlarm parameters of the guard alarms of every variant."""
    common = {
        "Namespace": NAMESPACE,
        "Period": settings.period_s,
        "EvaluationPeriods": settings.evaluation_periods,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",  # no traffic is not a failure
    }
    alarms = []
    for variant in variants:
        dimensions = [
            {"Name": "EndpointName", "Value": endpoint_name},
            {"Name": "VariantName", "Value": variant},
        ]
        alarms.append({
            "AlarmName": f"{endpoint_name}-{variant}{ERRORS_SUFFIX}",
            "AlarmDescription": f"5xx answers of {endpoint_name}/{variant}: rollback guard",
            "MetricName": "Invocation5XXErrors", "Statistic": "Sum",
            "Threshold": settings.max_5xx_errors, "Dimensions": dimensions, **common,
        })  # fmt: skip
        alarms.append({
            "AlarmName": f"{endpoint_name}-{variant}{LATENCY_SUFFIX}",
            "AlarmDescription": f"model latency of {endpoint_name}/{variant}: rollback guard",
            "MetricName": "ModelLatency", "Statistic": "Average", "Unit": "Microseconds",
            "Threshold": settings.max_latency_ms * 1000.0, "Dimensions": dimensions, **common,
        })  # fmt: skip
    return alarms


def guard_alarms(
    ops: AwsOps, endpoint_name: str, variants: list[str], settings: AlarmSettings
) -> list[str]:
    """The names of the alarms that guard the rollout: the existing ones named in
    ``settings.existing`` (which must exist), else ours, created or updated."""
    if settings.existing:
        if not ops.dry_run:
            found = ops.call("cloudwatch", "describe_alarms", AlarmNames=settings.existing)
            known = {a["AlarmName"] for a in found.get("MetricAlarms", [])}
            known |= {a["AlarmName"] for a in found.get("CompositeAlarms", [])}
            missing = [n for n in settings.existing if n not in known]
            if missing:
                raise DeployError(f"no CloudWatch alarm named {', '.join(missing)}")
        return list(settings.existing)
    names = []
    for alarm in alarm_definitions(endpoint_name, variants, settings):
        ops.call("cloudwatch", "put_metric_alarm", **alarm)  # creates or replaces
        names.append(alarm["AlarmName"])
        ops.say(f"alarm {alarm['AlarmName']}: {alarm['MetricName']} > {alarm['Threshold']:g}")
    return names


def delete_our_alarms(ops: AwsOps, endpoint_name: str) -> list[str]:
    """Delete the guard alarms this tooling created for the endpoint; alarms taken by name
    are the user's and stay."""
    if ops.dry_run:
        ops.call("cloudwatch", "describe_alarms", AlarmNamePrefix=f"{endpoint_name}-")
        return []
    ours, token = [], None
    while True:
        params: dict[str, Any] = {"AlarmNamePrefix": f"{endpoint_name}-"}
        if token:
            params["NextToken"] = token
        page = ops.call("cloudwatch", "describe_alarms", **params)
        for alarm in page.get("MetricAlarms", []):
            dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
            named_ours = alarm["AlarmName"].endswith((ERRORS_SUFFIX, LATENCY_SUFFIX))
            if named_ours and dims.get("EndpointName") == endpoint_name:
                ours.append(alarm["AlarmName"])
        token = page.get("NextToken")
        if not token:
            break
    if ours:
        ops.call("cloudwatch", "delete_alarms", AlarmNames=ours)
    return ours
