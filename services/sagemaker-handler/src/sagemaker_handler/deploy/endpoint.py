"""The endpoint lifecycle: deploy (create, or a blue/green update), wait, status and delete.

A deploy makes a new model and endpoint config named ``<endpoint>-<timestamp>`` each time and
points the endpoint at it; delete finds every generation by that pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker_handler.deploy.autoscale import scalable_target
from sagemaker_handler.deploy.client import (
    VARIANT,
    AwsOps,
    DeployError,
    call_or_none,
    poll,
    resource_name,
    stamp,
    upload,
)
from sagemaker_handler.deploy.images import framework_image_uri
from sagemaker_handler.packaging import read_runtime


@dataclass
class EndpointSettings:
    endpoint_name: str
    role_arn: str
    bucket: str
    prefix: str = "churn/sagemaker"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    variant: str = VARIANT
    image_uri: str | None = None  # None: the AWS scikit-learn framework image
    kms_key_id: str | None = None
    capture_percent: int = 100
    timeout_s: float = 1800.0
    poll_s: float = 15.0
    wait: bool = True

    def s3_uri(self, *parts: str) -> str:
        return "s3://" + "/".join([self.bucket, self.prefix.strip("/"), *parts])


def deploy(ops: AwsOps, tarball: Path, settings: EndpointSettings) -> dict[str, str]:
    """Upload, create model and endpoint config, then create (or update) the endpoint."""
    runtime = read_runtime(tarball)
    name = resource_name(settings.endpoint_name, stamp())
    model_data = upload(
        ops, tarball, settings.bucket,
        f"{settings.prefix.strip('/')}/models/{name}/model.tar.gz", settings.kms_key_id,
    )  # fmt: skip
    image = settings.image_uri or framework_image_uri(ops.region, runtime["framework_version"])
    tags = [
        {"Key": "churn:endpoint", "Value": settings.endpoint_name},
        {"Key": "churn:model-version", "Value": runtime["model_version"]},
    ]
    ops.say(f"model {name}: {runtime['model_version']} on {image}")
    ops.call(
        "sagemaker", "create_model",
        ModelName=name,
        ExecutionRoleArn=settings.role_arn,
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": model_data,
            "Environment": {
                "SAGEMAKER_PROGRAM": runtime["sagemaker_program"],
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": ops.region,
            },
        },
        Tags=tags,
    )  # fmt: skip
    ops.call("sagemaker", "create_endpoint_config", **_endpoint_config(name, settings, tags))
    if describe_endpoint(ops, settings.endpoint_name) is None:
        ops.call(
            "sagemaker", "create_endpoint",
            EndpointName=settings.endpoint_name, EndpointConfigName=name, Tags=tags,
        )  # fmt: skip
    else:  # blue/green: SageMaker moves traffic once the new config is healthy
        ops.call(
            "sagemaker", "update_endpoint",
            EndpointName=settings.endpoint_name, EndpointConfigName=name,
        )  # fmt: skip
    if settings.wait and not ops.dry_run:
        wait_for_endpoint(ops, settings.endpoint_name, settings.timeout_s, settings.poll_s)
    return {"model": name, "endpoint_config": name, "model_data": model_data, "image": image}


def _endpoint_config(
    name: str, settings: EndpointSettings, tags: list[dict[str, str]]
) -> dict[str, Any]:
    """One variant serving all traffic, with request and response capture to S3."""
    config: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": settings.variant,
                "ModelName": name,
                "InitialInstanceCount": settings.instance_count,
                "InstanceType": settings.instance_type,
                "InitialVariantWeight": 1.0,
            }
        ],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": settings.capture_percent,
            "DestinationS3Uri": settings.s3_uri("capture"),
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "JsonContentTypes": ["application/json", "application/jsonlines"],
                "CsvContentTypes": ["text/csv"],
            },
        },
        "Tags": tags,
    }
    if settings.kms_key_id:
        config["KmsKeyId"] = settings.kms_key_id
        config["DataCaptureConfig"]["KmsKeyId"] = settings.kms_key_id
    return config


def describe_endpoint(ops: AwsOps, endpoint_name: str) -> dict[str, Any] | None:
    """DescribeEndpoint's answer, or None when there is no such endpoint (or in a dry run)."""
    if ops.dry_run:
        return None
    return call_or_none(ops, "sagemaker", "describe_endpoint", EndpointName=endpoint_name)


def _existing_endpoint(ops: AwsOps, endpoint_name: str, hint: str = "") -> dict[str, Any]:
    described = describe_endpoint(ops, endpoint_name)
    if described is None:
        raise DeployError(f"endpoint {endpoint_name} does not exist{hint}")
    return described


def wait_for_endpoint(ops: AwsOps, endpoint_name: str, timeout_s: float, poll_s: float) -> str:
    """Poll until InService; fail on Failed or after ``timeout_s``; print each change."""
    return poll(
        ops, f"endpoint {endpoint_name}",
        lambda: _existing_endpoint(ops, endpoint_name),
        "EndpointStatus", "InService", ("Failed", "OutOfService", "RollingBack"),
        timeout_s, poll_s,
    )  # fmt: skip


def status(ops: AwsOps, endpoint_name: str) -> dict[str, Any]:
    if ops.dry_run:
        ops.call("sagemaker", "describe_endpoint", EndpointName=endpoint_name)  # printed only
        return {}
    described = _existing_endpoint(ops, endpoint_name)
    ops.say(f"endpoint {endpoint_name}: {described['EndpointStatus']}")
    if described.get("FailureReason"):
        ops.say(f"  failure: {described['FailureReason']}")
    ops.say(f"  config: {described['EndpointConfigName']}")
    for variant in described.get("ProductionVariants", []):
        ops.say(
            f"  variant {variant['VariantName']}: {variant.get('CurrentInstanceCount')}"
            f"/{variant.get('DesiredInstanceCount')} instances, "
            f"weight {variant.get('CurrentWeight')}"
        )
    capture = described.get("DataCaptureConfig") or {}
    if capture:
        ops.say(
            f"  data capture: {capture.get('EnableCapture')} → {capture.get('DestinationS3Uri')}"
        )
    return described


def model_of_endpoint(ops: AwsOps, endpoint_name: str) -> str:
    """The model behind the endpoint's (first) variant."""
    if ops.dry_run:
        return f"<model behind {endpoint_name}>"
    described = _existing_endpoint(ops, endpoint_name, "; pass --model-name")
    config = ops.call(
        "sagemaker", "describe_endpoint_config", EndpointConfigName=described["EndpointConfigName"]
    )
    return config["ProductionVariants"][0]["ModelName"]


def delete(ops: AwsOps, endpoint_name: str, variant: str = VARIANT) -> list[str]:
    """Remove scaling, endpoint, its configs and models. Missing pieces are fine (idempotent)."""
    configs, models = _generations(ops, endpoint_name)
    steps = [
        ("application-autoscaling", "deregister_scalable_target",
         scalable_target(endpoint_name, variant)),
        ("sagemaker", "delete_endpoint", {"EndpointName": endpoint_name}),
        *[("sagemaker", "delete_endpoint_config", {"EndpointConfigName": c})
          for c in sorted(configs)],
        *[("sagemaker", "delete_model", {"ModelName": m}) for m in sorted(models)],
    ]  # fmt: skip
    removed: list[str] = []
    for service, operation, params in steps:
        if call_or_none(ops, service, operation, **params) is not None:
            what = " ".join(str(v) for k, v in params.items() if k != "ServiceNamespace")
            removed.append(f"{operation.removeprefix('delete_')} {what}")
            ops.say(f"{operation}: {what}")
    if not removed and not ops.dry_run:
        ops.say(f"nothing to delete for {endpoint_name}")
    return removed


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
    pattern = re.compile(re.escape(endpoint_name[:47]) + r"-\d{14}$")
    for item in _paged(ops, "list_endpoint_configs", "EndpointConfigs", endpoint_name):
        if pattern.match(item["EndpointConfigName"]):
            configs.add(item["EndpointConfigName"])
    for item in _paged(ops, "list_models", "Models", endpoint_name):
        if pattern.match(item["ModelName"]):
            models.add(item["ModelName"])
    for config in configs:
        described_config = call_or_none(
            ops, "sagemaker", "describe_endpoint_config", EndpointConfigName=config
        )
        for v in (described_config or {}).get("ProductionVariants", []):
            models.add(v["ModelName"])
    return configs, models


def _paged(ops: AwsOps, operation: str, key: str, name_contains: str) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        params: dict[str, Any] = {"NameContains": name_contains, "MaxResults": 100}
        if token:
            params["NextToken"] = token
        page = ops.call("sagemaker", operation, **params)
        items.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token:
            return items
