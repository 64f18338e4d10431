"""The endpoint lifecycle: deploy (create, or a blue/green update, optionally canary or
linear with alarm rollback), wait, and the endpoint's model.

A deploy makes a new endpoint config named ``<endpoint>-<timestamp>`` each time, with a model
of the same name (A/B: ``…-a`` and ``…-b``), and points the endpoint at it; delete
(teardown.py) finds every generation by that pattern.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

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
from sagemaker_handler.deploy.rollout import RolloutSettings, deployment_config
from sagemaker_handler.deploy.variants import (
    MODEL_VERSION_TAG,
    VariantPlan,
    plan_variants,
    production_variant,
)
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


def deploy(
    ops: AwsOps,
    tarball: Path,
    settings: EndpointSettings,
    candidate: Path | None = None,
    candidate_percent: int = 10,
    rollout: RolloutSettings | None = None,
) -> dict[str, Any]:
    """Upload, create a model per variant and the endpoint config, then create the endpoint
    or update it (blue/green; canary or linear with alarm rollback when ``rollout`` says so).
    With ``candidate``, variants A (``tarball``) and B (``candidate``) split the traffic."""
    rollout = rollout or RolloutSettings()
    name = resource_name(settings.endpoint_name, stamp())
    plans = plan_variants(tarball, candidate, candidate_percent)
    if len(plans) == 1:
        plans = [replace(plans[0], name=settings.variant)]
    models = {p.name: _create_model(ops, p, name + p.model_suffix, settings) for p in plans}
    variants = [
        production_variant(p, models[p.name]["model"], settings.instance_type,
                           settings.instance_count)
        for p in plans
    ]  # fmt: skip
    tags = [{"Key": "churn:endpoint", "Value": settings.endpoint_name}]
    ops.call(
        "sagemaker", "create_endpoint_config", **_endpoint_config(name, settings, variants, tags)
    )
    updating = describe_endpoint(ops, settings.endpoint_name) is not None
    if not updating:
        if rollout.mode != "all-at-once":
            ops.say(f"first deploy of {settings.endpoint_name}: --rollout applies to updates")
        ops.call(
            "sagemaker", "create_endpoint",
            EndpointName=settings.endpoint_name, EndpointConfigName=name, Tags=tags,
        )  # fmt: skip
    else:  # blue/green: SageMaker moves traffic once the new config is healthy
        update: dict[str, Any] = {
            "EndpointName": settings.endpoint_name,
            "EndpointConfigName": name,
        }
        guarded = deployment_config(ops, settings.endpoint_name, list(models), rollout)
        if guarded:
            update["DeploymentConfig"] = guarded
        ops.call("sagemaker", "update_endpoint", **update)
    if settings.wait and not ops.dry_run:
        wait_for_endpoint(ops, settings.endpoint_name, settings.timeout_s, settings.poll_s)
        if updating:
            _check_not_rolled_back(ops, settings.endpoint_name, name)
    first = models[plans[0].name]
    return {"endpoint_config": name, **first, "variants": models}


def _create_model(
    ops: AwsOps, plan: VariantPlan, name: str, settings: EndpointSettings
) -> dict[str, str]:
    runtime = read_runtime(plan.tarball)
    model_data = upload(
        ops, plan.tarball, settings.bucket,
        f"{settings.prefix.strip('/')}/models/{name}/model.tar.gz", settings.kms_key_id,
    )  # fmt: skip
    image = settings.image_uri or framework_image_uri(ops.region, runtime["framework_version"])
    ops.say(f"model {name} (variant {plan.name}): {runtime['model_version']} on {image}")
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
        Tags=[
            {"Key": "churn:endpoint", "Value": settings.endpoint_name},
            {"Key": MODEL_VERSION_TAG, "Value": runtime["model_version"]},
        ],
    )  # fmt: skip
    return {"model": name, "model_data": model_data, "image": image}


def _check_not_rolled_back(ops: AwsOps, endpoint_name: str, config_name: str) -> None:
    """After an update, InService on the old config means SageMaker rolled back."""
    serving = existing_endpoint(ops, endpoint_name)["EndpointConfigName"]
    if serving != config_name:
        raise DeployError(
            f"endpoint {endpoint_name} rolled back: it serves {serving}, not {config_name}"
        )


def _endpoint_config(
    name: str,
    settings: EndpointSettings,
    variants: list[dict[str, Any]],
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    """The variants, with request and response capture to S3."""
    config: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": variants,
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


def existing_endpoint(ops: AwsOps, endpoint_name: str, hint: str = "") -> dict[str, Any]:
    described = describe_endpoint(ops, endpoint_name)
    if described is None:
        raise DeployError(f"endpoint {endpoint_name} does not exist{hint}")
    return described


def wait_for_endpoint(ops: AwsOps, endpoint_name: str, timeout_s: float, poll_s: float) -> str:
    """Poll until InService; fail on Failed or after ``timeout_s``; print each change."""
    return poll(
        ops, f"endpoint {endpoint_name}",
        lambda: existing_endpoint(ops, endpoint_name),
        "EndpointStatus", "InService", ("Failed", "OutOfService", "RollingBack"),
        timeout_s, poll_s,
    )  # fmt: skip


def model_of_endpoint(ops: AwsOps, endpoint_name: str) -> str:
    """The model behind the endpoint's (first) variant."""
    if ops.dry_run:
        return f"<model behind {endpoint_name}>"
    described = existing_endpoint(ops, endpoint_name, "; pass --model-name")
    config = ops.call(
        "sagemaker", "describe_endpoint_config", EndpointConfigName=described["EndpointConfigName"]
    )
    return config["ProductionVariants"][0]["ModelName"]
