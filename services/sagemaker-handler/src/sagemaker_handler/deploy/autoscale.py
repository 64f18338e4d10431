"""Target-tracking autoscaling of an endpoint variant on invocations per instance."""

from __future__ import annotations

from dataclasses import dataclass

from sagemaker_handler.deploy.client import VARIANT, AwsOps

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@dataclass
class ScalingSettings:
    min_capacity: int = 1
    max_capacity: int = 5
    invocations_per_instance: float = 100.0
    scale_in_cooldown_s: int = 300  # slow in: avoid flapping after a burst
    scale_out_cooldown_s: int = 60


def scalable_target(endpoint_name: str, variant: str = VARIANT) -> dict[str, str]:
    """The Application Auto Scaling address of a variant's instance count."""
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint_name}/variant/{variant}",
        "ScalableDimension": SCALABLE_DIMENSION,
    }


def autoscale(
    ops: AwsOps, endpoint_name: str, variant: str = VARIANT, scaling: ScalingSettings | None = None
) -> str:
    scaling = scaling or ScalingSettings()
    target = scalable_target(endpoint_name, variant)
    ops.call(
        "application-autoscaling", "register_scalable_target",
        **target,
        MinCapacity=scaling.min_capacity,
        MaxCapacity=scaling.max_capacity,
    )  # fmt: skip
    policy_name = f"{endpoint_name}-invocations-per-instance"
    ops.call(
        "application-autoscaling", "put_scaling_policy",
        PolicyName=policy_name,
        **target,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": scaling.invocations_per_instance,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": scaling.scale_in_cooldown_s,
            "ScaleOutCooldown": scaling.scale_out_cooldown_s,
        },
    )  # fmt: skip
    ops.say(
        f"autoscaling {target['ResourceId']}: {scaling.min_capacity}-{scaling.max_capacity} "
        f"instances, target {scaling.invocations_per_instance:g} invocations per instance"
    )
    return policy_name
