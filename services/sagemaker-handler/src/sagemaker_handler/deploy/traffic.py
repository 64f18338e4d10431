"""``traffic``: shift an endpoint's traffic between its production variants (promote a
candidate, roll it back) in place, with UpdateEndpointWeightsAndCapacities: no new fleet,
no new endpoint config."""

from __future__ import annotations

from typing import Any

from sagemaker_handler.deploy.client import AwsOps, DeployError


def parse_weights(text: str) -> dict[str, int]:
    """``A=90,B=10`` → {"A": 90, "B": 10}; percentages that add up to 100."""
    weights: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise DeployError(f"--weights wants VARIANT=PERCENT,…; got {part!r}")
        if name.strip() in weights:
            raise DeployError(f"variant {name.strip()} given twice in --weights")
        weights[name.strip()] = int(value)
    if not weights or sum(weights.values()) != 100:
        raise DeployError(f"--weights must add up to 100, not {sum(weights.values())}")
    return weights


def traffic(
    ops: AwsOps, endpoint_name: str, weights: dict[str, int], wait_s: float = 600.0
) -> dict[str, Any]:
    """Set each named variant's weight; variants not named keep theirs, so name them all
    when the endpoint has more than these."""
    from sagemaker_handler.deploy.endpoint import existing_endpoint, wait_for_endpoint

    if not ops.dry_run:
        live = {
            v["VariantName"] for v in existing_endpoint(ops, endpoint_name)["ProductionVariants"]
        }
        unknown = sorted(set(weights) - live)
        if unknown:
            raise DeployError(
                f"endpoint {endpoint_name} has no variant {', '.join(unknown)} "
                f"(it has {', '.join(sorted(live))})"
            )
    answer = ops.call(
        "sagemaker", "update_endpoint_weights_and_capacities",
        EndpointName=endpoint_name,
        DesiredWeightsAndCapacities=[
            {"VariantName": name, "DesiredWeight": float(pct)} for name, pct in weights.items()
        ],
    )  # fmt: skip
    ops.say(f"traffic of {endpoint_name}: " + ", ".join(f"{n} {p}%" for n, p in weights.items()))
    if not ops.dry_run:
        wait_for_endpoint(ops, endpoint_name, wait_s, 5.0)
    return answer
