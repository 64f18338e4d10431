"""Traffic between the models deployed on one endpoint: ``traffic`` sets the split (promote a
canary, roll it back) with one endpoint update; ``undeploy`` first moves the model's share to
the models that stay, then undeploys it, so no request meets a missing model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vertex_predictor.deploy.client import DeployError, require_endpoint
from vertex_predictor.deploy.endpoint import DEFAULT_ENDPOINT_NAME, endpoint_status


def set_traffic(
    split: Mapping[str, int], endpoint_ref: str = DEFAULT_ENDPOINT_NAME
) -> dict[str, Any]:
    """PATCH the endpoint's traffic_split to ``split`` (deployed-model id → percent, adding
    up to 100); deployed models not named get 0%."""
    endpoint = require_endpoint(endpoint_ref)
    deployed = {d.id for d in endpoint.gca_resource.deployed_models}
    unknown = sorted(set(split) - deployed)
    if unknown:
        raise DeployError(
            f"no deployed model {', '.join(unknown)} on {endpoint.resource_name} "
            f"(deployed: {', '.join(sorted(deployed)) or 'none'})"
        )
    if sum(split.values()) != 100 or any(v < 0 for v in split.values()):
        raise DeployError("traffic split percentages must be >= 0 and add up to 100")
    full = {model_id: int(split.get(model_id, 0)) for model_id in sorted(deployed)}
    endpoint.update(traffic_split=full)
    return endpoint_status(endpoint)


def moved_split(split: Mapping[str, int], leaving: str) -> dict[str, int]:
    """``split`` with ``leaving``'s share given to the others in proportion to what they
    have (evenly when they have none), in whole percents that add up to 100."""
    rest = {k: v for k, v in split.items() if k != leaving}
    if not rest:
        return {}
    total = sum(rest.values())
    weights = rest if total else dict.fromkeys(rest, 1)
    weight_sum = sum(weights.values())
    exact = {k: 100 * w / weight_sum for k, w in weights.items()}
    moved = {k: int(v) for k, v in exact.items()}
    # largest remainders get the percents that rounding down left over
    for k in sorted(exact, key=lambda k: exact[k] - moved[k], reverse=True)[
        : 100 - sum(moved.values())
    ]:
        moved[k] += 1
    return moved


def undeploy(deployed_model_id: str, endpoint_ref: str = DEFAULT_ENDPOINT_NAME) -> dict[str, Any]:
    """Move the model's traffic to the remaining models, then undeploy it."""
    endpoint = require_endpoint(endpoint_ref)
    resource = endpoint.gca_resource
    deployed = [d.id for d in resource.deployed_models]
    if deployed_model_id not in deployed:
        raise DeployError(
            f"no deployed model {deployed_model_id} on {endpoint.resource_name} "
            f"(deployed: {', '.join(deployed) or 'none'})"
        )
    current = {k: int(v) for k, v in resource.traffic_split.items()}
    for model_id in deployed:
        current.setdefault(model_id, 0)
    remaining = moved_split(current, deployed_model_id)
    if remaining and current.get(deployed_model_id):
        endpoint.update(traffic_split=remaining)  # traffic first: then nothing is routed to it
    endpoint.undeploy(deployed_model_id, traffic_split=remaining or None)
    result = endpoint_status(endpoint)
    return {**result, "undeployed": deployed_model_id}
