"""Invoking a deployed endpoint (the ``test`` command) and checking its answer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from churn_core.schema import customers_to_csv
from sagemaker_handler.deploy.client import AwsOps, DeployError


def invoke(
    ops: AwsOps,
    endpoint_name: str,
    customers: Sequence[dict[str, Any]],
    explain: bool = False,
    content_type: str = "application/json",
    target_variant: str | None = None,
) -> list[dict[str, Any]]:
    """Invoke with ``customers``; check the answer has one valid prediction per customer."""
    if content_type == "text/csv":
        body = customers_to_csv(customers).encode()
    else:
        body = json.dumps({"instances": list(customers)}).encode()
    params: dict[str, Any] = {
        "EndpointName": endpoint_name,
        "ContentType": content_type,
        "Accept": "application/json",
        "Body": body,
    }
    if explain:
        params["CustomAttributes"] = "explain=true"
    if target_variant:  # A/B: skip the weights, ask one variant
        params["TargetVariant"] = target_variant
    response = ops.call("sagemaker-runtime", "invoke_endpoint", **params)
    if ops.dry_run:
        return []
    answer = json.loads(response["Body"].read())
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(customers):
        raise DeployError(f"unexpected answer from {endpoint_name}: {str(answer)[:200]}")
    for prediction in predictions:
        probability = prediction.get("churn_probability")
        if not isinstance(probability, float) or not 0.0 <= probability <= 1.0:
            raise DeployError(f"invalid churn_probability in answer: {prediction}")
    return predictions
