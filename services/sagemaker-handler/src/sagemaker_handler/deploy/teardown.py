"""``delete``: everything an endpoint accumulated, in dependency order: Model Monitor
schedules (and their job definitions), the rollout's guard alarms, autoscaling targets of
every variant, the endpoint, and the configs and models of every deploy generation.
Missing pieces are fine, so a second delete (or one after a half-done deploy) succeeds."""

from __future__ import annotations

import re
from typing import Any

from sagemaker_handler.deploy.alarms import delete_our_alarms
from sagemaker_handler.deploy.autoscale import SCALABLE_DIMENSION
from sagemaker_handler.deploy.client import AwsOps, call_or_none
from sagemaker_handler.deploy.endpoint import describe_endpoint

Step = tuple[str, str, dict[str, Any]]


def delete(ops: AwsOps, endpoint_name: str) -> list[str]:
    """Remove everything of the endpoint; print and return what was removed."""
    removed = [f"alarm {a}" for a in delete_our_alarms(ops, endpoint_name)]
    for name in removed:
        ops.say(f"delete_alarms: {name.removeprefix('alarm ')}")
    configs, models = _generations(ops, endpoint_name)
    steps = [
        *_monitoring_steps(ops, endpoint_name),
        *_scaling_steps(ops, endpoint_name),
        ("sagemaker", "delete_endpoint", {"EndpointName": endpoint_name}),
        *[("sagemaker", "delete_endpoint_config", {"EndpointConfigName": c})
          for c in sorted(configs)],
        *[("sagemaker", "delete_model", {"ModelName": m}) for m in sorted(models)],
    ]  # fmt: skip
    for service, operation, params in steps:
        if call_or_none(ops, service, operation, **params) is not None:
            what = " ".join(str(v) for k, v in params.items() if k not in _NOT_NAMES)
            removed.append(f"{operation.removeprefix('delete_')} {what}")
            ops.say(f"{operation}: {what}")
    if not removed and not ops.dry_run:
        ops.say(f"nothing to delete for {endpoint_name}")
    return removed


_NOT_NAMES = ("ServiceNamespace", "ScalableDimension")


def _monitoring_steps(ops: AwsOps, endpoint_name: str) -> list[Step]:
    """Schedules first (a job definition in use cannot go), then the data-quality job
    definitions that read this endpoint."""
    if ops.dry_run:
        ops.call("sagemaker", "list_monitoring_schedules", EndpointName=endpoint_name)
        ops.call("sagemaker", "list_data_quality_job_definitions", EndpointName=endpoint_name)
        return []
    schedules = _pages(
        ops, "list_monitoring_schedules", "MonitoringScheduleSummaries", EndpointName=endpoint_name
    )
    definitions = _pages(
        ops, "list_data_quality_job_definitions", "JobDefinitionSummaries",
        EndpointName=endpoint_name,
    )  # fmt: skip
    return [
        *[("sagemaker", "delete_monitoring_schedule",
           {"MonitoringScheduleName": s["MonitoringScheduleName"]}) for s in schedules],
        *[("sagemaker", "delete_data_quality_job_definition",
           {"JobDefinitionName": d["MonitoringJobDefinitionName"]}) for d in definitions],
    ]  # fmt: skip


def _scaling_steps(ops: AwsOps, endpoint_name: str) -> list[Step]:
    """Deregister the scalable target of every variant of the endpoint."""
    prefix = f"endpoint/{endpoint_name}/variant/"
    if ops.dry_run:
        ops.call("application-autoscaling", "describe_scalable_targets",
                 ServiceNamespace="sagemaker")  # fmt: skip
        return []
    targets = _pages(
        ops, "describe_scalable_targets", "ScalableTargets",
        service="application-autoscaling", ServiceNamespace="sagemaker",
    )  # fmt: skip
    return [
        ("application-autoscaling", "deregister_scalable_target", {
            "ServiceNamespace": "sagemaker", "ResourceId": t["ResourceId"],
            "ScalableDimension": SCALABLE_DIMENSION,
        })
        for t in targets
        if t["ResourceId"].startswith(prefix) and t["ScalableDimension"] == SCALABLE_DIMENSION
    ]  # fmt: skip


def _generations(ops: AwsOps, endpoint_name: str) -> tuple[set[str], set[str]]:
    """The endpoint configs and models of every deploy of this endpoint, including those of
    earlier deploys and of a deploy that stopped halfway."""
    configs: set[str] = set()
    models: set[str] = set()
    described = describe_endpoint(ops, endpoint_name)
    if described is not None:
        configs.add(described["EndpointConfigName"])
    if ops.dry_run:
        return configs, models
    pattern = re.compile(re.escape(endpoint_name[:47]) + r"-\d{14}(-[ab])?$")
    for item in _pages(ops, "list_endpoint_configs", "EndpointConfigs", **_named(endpoint_name)):
        if pattern.match(item["EndpointConfigName"]):
            configs.add(item["EndpointConfigName"])
    for item in _pages(ops, "list_models", "Models", **_named(endpoint_name)):
        if pattern.match(item["ModelName"]):
            models.add(item["ModelName"])
    for config in configs:
        described_config = call_or_none(
            ops, "sagemaker", "describe_endpoint_config", EndpointConfigName=config
        )
        for v in (described_config or {}).get("ProductionVariants", []):
            models.add(v["ModelName"])
    return configs, models


def _named(endpoint_name: str) -> dict[str, Any]:
    return {"NameContains": endpoint_name, "MaxResults": 100}


def _pages(
    ops: AwsOps, operation: str, key: str, service: str = "sagemaker", **params: Any
) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        page = ops.call(service, operation, **params, **({"NextToken": token} if token else {}))
        items.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token:
            return items
