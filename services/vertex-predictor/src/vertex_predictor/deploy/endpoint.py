"""The endpoint lifecycle: deploy a Model (creating the endpoint), status, test, delete."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from churn_core.samples import SAMPLE_CUSTOMERS
from vertex_predictor.deploy.client import (
    DEFAULT_MACHINE_TYPE,
    DeployError,
    find_endpoint,
    find_model,
    is_resource_id,
    require_endpoint,
)

if TYPE_CHECKING:
    from google.cloud import aiplatform

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT_NAME = "churn-endpoint"
PREDICTION_FIELDS = ("churn_probability", "churn_prediction", "risk_level", "model_version")


def deploy_model(
    model_ref: str,
    endpoint_ref: str = DEFAULT_ENDPOINT_NAME,
    machine_type: str = DEFAULT_MACHINE_TYPE,
    min_replicas: int = 1,
    max_replicas: int = 2,
    traffic_percentage: int = 100,
    traffic_split: Mapping[str, int] | None = None,
    request_response_logging: bool = False,
    logging_sampling_rate: float = 0.1,
    logging_bigquery_table: str | None = None,
    service_account: str | None = None,
) -> dict[str, Any]:
    """Deploy a Model to the endpoint, creating the endpoint (by display name) if needed.

    ``traffic_split`` uses "0" for the model being deployed, as Vertex does.
    """
    from google.cloud import aiplatform

    if min_replicas < 1 or max_replicas < min_replicas:
        raise DeployError("need 1 <= min replicas <= max replicas")
    if traffic_split is not None and sum(traffic_split.values()) != 100:
        raise DeployError("traffic split percentages must add up to 100")
    model = find_model(model_ref)
    endpoint = find_endpoint(endpoint_ref)
    if endpoint is None:
        if is_resource_id(endpoint_ref):
            raise DeployError(f"endpoint {endpoint_ref} not found")
        endpoint = aiplatform.Endpoint.create(
            display_name=endpoint_ref,
            enable_request_response_logging=request_response_logging,
            request_response_logging_sampling_rate=(
                logging_sampling_rate if request_response_logging else None
            ),
            request_response_logging_bq_destination_table=logging_bigquery_table,
        )
    elif request_response_logging and not _logging_enabled(endpoint):
        # The SDK can only set the logging config when it creates an endpoint.
        logger.warning(
            "endpoint %s exists without request-response logging; it stays off "
            "(create a new endpoint to enable it)",
            endpoint.resource_name,
        )
    endpoint.deploy(
        model,
        deployed_model_display_name=model.display_name,
        machine_type=machine_type,
        min_replica_count=min_replicas,
        max_replica_count=max_replicas,
        traffic_percentage=0 if traffic_split is not None else traffic_percentage,
        traffic_split=dict(traffic_split) if traffic_split is not None else None,
        service_account=service_account,
    )
    return endpoint_status(endpoint)


def _logging_enabled(endpoint: aiplatform.Endpoint) -> bool:
    config = endpoint.gca_resource.predict_request_response_logging_config
    return bool(config and config.enabled)


def endpoint_status(endpoint: aiplatform.Endpoint) -> dict[str, Any]:
    resource = endpoint.gca_resource
    deployed = []
    for d in resource.deployed_models:
        resources = d.dedicated_resources
        deployed.append(
            {
                "id": d.id,
                "model": d.model,
                "display_name": d.display_name,
                "machine_type": resources.machine_spec.machine_type,
                "min_replicas": resources.min_replica_count,
                "max_replicas": resources.max_replica_count,
            }
        )
    logging_config = resource.predict_request_response_logging_config
    return {
        "endpoint": resource.name,
        "display_name": resource.display_name,
        "deployed_models": deployed,
        "traffic_split": dict(resource.traffic_split),
        "request_response_logging": {
            "enabled": bool(logging_config.enabled),
            "sampling_rate": logging_config.sampling_rate,
            "bigquery_table": logging_config.bigquery_destination.output_uri,
        },
    }


def status(endpoint_ref: str = DEFAULT_ENDPOINT_NAME) -> dict[str, Any]:
    """The endpoint, its deployed models, traffic split and monitoring jobs."""
    from vertex_predictor.deploy.monitor import job_summary, jobs_of

    endpoint = require_endpoint(endpoint_ref)
    return {
        **endpoint_status(endpoint),
        "monitoring_jobs": [job_summary(j) for j in jobs_of(endpoint)],
    }


def test_endpoint(
    endpoint_ref: str = DEFAULT_ENDPOINT_NAME,
    customers: Sequence[Mapping[str, Any]] = SAMPLE_CUSTOMERS,
    explain: bool = False,
) -> dict[str, Any]:
    """Predict ``customers`` through the endpoint and check each answer has the contract fields."""
    endpoint = require_endpoint(endpoint_ref)
    response = endpoint.predict(instances=list(customers), parameters={"explain": explain})
    predictions = [dict(p) for p in response.predictions]
    if len(predictions) != len(customers):
        raise DeployError(f"sent {len(customers)} customers, got {len(predictions)} predictions")
    required = PREDICTION_FIELDS + (("feature_contributions", "base_value") if explain else ())
    for i, prediction in enumerate(predictions):
        missing = [name for name in required if name not in prediction]
        if missing:
            raise DeployError(f"prediction {i} lacks {', '.join(missing)}")
    return {
        "endpoint": endpoint.resource_name,
        "deployed_model_id": response.deployed_model_id,
        "predictions": predictions,
    }


def delete(
    endpoint_ref: str = DEFAULT_ENDPOINT_NAME, delete_models: bool = False
) -> dict[str, Any]:
    """Undeploy everything from the endpoint and delete it; a missing endpoint is not an error."""
    from vertex_predictor.deploy.monitor import delete_monitors

    endpoint = find_endpoint(endpoint_ref)
    if endpoint is None:
        return {"endpoint": endpoint_ref, "deleted": False, "reason": "not found"}
    monitors = delete_monitors(endpoint.resource_name)["deleted_monitoring_jobs"]
    models = sorted({d.model for d in endpoint.gca_resource.deployed_models})
    endpoint.delete(force=True)  # force: undeploy every model first
    deleted_models = []
    if delete_models:
        from google.api_core.exceptions import FailedPrecondition, NotFound
        from google.cloud import aiplatform

        for name in models:
            try:
                aiplatform.Model(name.split("@")[0]).delete()
                deleted_models.append(name)
            except NotFound:
                pass
            except FailedPrecondition as error:  # still deployed on another endpoint
                logger.warning("kept model %s: %s", name, error.message)
    return {
        "endpoint": endpoint.resource_name,
        "deleted": True,
        "deleted_monitoring_jobs": monitors,
        "undeployed_models": models,
        "deleted_models": deleted_models,
    }
