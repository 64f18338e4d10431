"""Production variants: which models an endpoint serves and in what proportions (A/B), and
the ``status`` view that lists every variant with its weight, instances, model and the
model_version its bundle was tagged with at deploy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker_handler.deploy.client import VARIANT, AwsOps, DeployError, call_or_none

# The two variants of an A/B deploy: A serves the current model, B the candidate.
CURRENT, CANDIDATE = "A", "B"
MODEL_VERSION_TAG = "churn:model-version"


@dataclass(frozen=True)
class VariantPlan:
    """One production variant to create: its name, the tarball its model comes from, its
    share of traffic in percent and the suffix of its model's name."""

    name: str
    tarball: Path
    weight: int
    model_suffix: str = ""


def plan_variants(
    tarball: Path, candidate: Path | None = None, candidate_percent: int = 10
) -> list[VariantPlan]:
    """One variant with all traffic, or A (``tarball``) and B (``candidate``) split by
    ``candidate_percent``."""
    if candidate is None:
        return [VariantPlan(VARIANT, tarball, 100)]
    if not 0 <= candidate_percent <= 100:
        raise DeployError(f"--candidate-percent must be 0-100, not {candidate_percent}")
    return [
        VariantPlan(CURRENT, tarball, 100 - candidate_percent, "-a"),
        VariantPlan(CANDIDATE, candidate, candidate_percent, "-b"),
    ]


def production_variant(
    plan: VariantPlan, model_name: str, instance_type: str, instance_count: int
) -> dict[str, Any]:
    return {
        "VariantName": plan.name,
        "ModelName": model_name,
        "InitialInstanceCount": instance_count,
        "InstanceType": instance_type,
        "InitialVariantWeight": float(plan.weight),
    }


def model_version(ops: AwsOps, model_name: str) -> str:
    """The churn:model-version tag of a model, or "?" when the model or tag is gone."""
    described = call_or_none(ops, "sagemaker", "describe_model", ModelName=model_name)
    if described is None:
        return "?"
    tags = ops.call("sagemaker", "list_tags", ResourceArn=described["ModelArn"]).get("Tags", [])
    return next((t["Value"] for t in tags if t["Key"] == MODEL_VERSION_TAG), "?")


def status(ops: AwsOps, endpoint_name: str) -> dict[str, Any]:
    """Print the endpoint's state and each variant: weight, instances, model, model_version."""
    from sagemaker_handler.deploy.endpoint import existing_endpoint

    if ops.dry_run:
        ops.call("sagemaker", "describe_endpoint", EndpointName=endpoint_name)  # printed only
        return {}
    described = existing_endpoint(ops, endpoint_name)
    ops.say(f"endpoint {endpoint_name}: {described['EndpointStatus']}")
    if described.get("FailureReason"):
        ops.say(f"  failure: {described['FailureReason']}")
    ops.say(f"  config: {described['EndpointConfigName']}")
    config = ops.call(
        "sagemaker", "describe_endpoint_config", EndpointConfigName=described["EndpointConfigName"]
    )
    models = {v["VariantName"]: v["ModelName"] for v in config.get("ProductionVariants", [])}
    live = described.get("ProductionVariants", [])
    total = sum(float(v.get("CurrentWeight") or 0.0) for v in live) or 1.0
    for variant in live:
        name = variant["VariantName"]
        weight = float(variant.get("CurrentWeight") or 0.0)
        model = models.get(name, "?")
        ops.say(
            f"  variant {name}: weight {weight:g} ({100 * weight / total:.0f}%), "
            f"{variant.get('CurrentInstanceCount')}/{variant.get('DesiredInstanceCount')} "
            f"instances, model {model}, model_version {model_version(ops, model)}"
        )
    capture = described.get("DataCaptureConfig") or {}
    if capture:
        ops.say(
            f"  data capture: {capture.get('EnableCapture')} → {capture.get('DestinationS3Uri')}"
        )
    return described
