"""How an update shifts traffic to the new fleet: all at once (SageMaker's default blue/green),
or a canary or linear blue/green shift with automatic rollback on CloudWatch alarms.

The DeploymentConfig of UpdateEndpoint does the work in SageMaker: it brings up the new fleet,
moves ``canary_percent`` of capacity (or ``linear_step_percent`` per step), waits
``bake_s`` after each step while watching the alarms, and rolls back if one fires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagemaker_handler.deploy.alarms import AlarmSettings, guard_alarms
from sagemaker_handler.deploy.client import AwsOps, DeployError

ROLLOUTS = ("all-at-once", "canary", "linear")


@dataclass
class RolloutSettings:
    mode: str = "all-at-once"
    canary_percent: int = 10
    linear_step_percent: int = 20
    bake_s: int = 600  # wait after each shift, alarms watched
    alarms: AlarmSettings = field(default_factory=AlarmSettings)

    def __post_init__(self) -> None:
        if self.mode not in ROLLOUTS:
            raise DeployError(f"unknown rollout {self.mode}; one of {', '.join(ROLLOUTS)}")
        for name in ("canary_percent", "linear_step_percent"):
            if not 1 <= getattr(self, name) <= 99:
                raise DeployError(f"{name.replace('_', '-')} must be 1-99")


def traffic_routing(settings: RolloutSettings) -> dict[str, Any]:
    """TrafficRoutingConfiguration: CANARY or LINEAR steps in percent of capacity."""
    if settings.mode == "canary":
        step = {"CanarySize": {"Type": "CAPACITY_PERCENT", "Value": settings.canary_percent}}
        return {"Type": "CANARY", "WaitIntervalInSeconds": settings.bake_s, **step}
    step = {"LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": settings.linear_step_percent}}
    return {"Type": "LINEAR", "WaitIntervalInSeconds": settings.bake_s, **step}


def deployment_config(
    ops: AwsOps, endpoint_name: str, variants: list[str], settings: RolloutSettings
) -> dict[str, Any] | None:
    """UpdateEndpoint's DeploymentConfig for a guarded rollout (creating its alarms), or None
    for all-at-once."""
    if settings.mode == "all-at-once":
        return None
    alarms = guard_alarms(ops, endpoint_name, variants, settings.alarms)
    return {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": traffic_routing(settings)},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in alarms]},
    }
