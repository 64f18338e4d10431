"""Vertex AI operations through the aiplatform SDK: upload, deploy, test, status, delete, batch.

Every function returns a plain dict (what the CLI prints as JSON). The SDK always talks REST,
so one code path serves Google Cloud and the local fake API the tests run against.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from churn_core.samples import SAMPLE_CUSTOMERS
from vertex_predictor import storage
from vertex_predictor.server import DEFAULT_HEALTH_ROUTE, DEFAULT_PORT, DEFAULT_PREDICT_ROUTE

if TYPE_CHECKING:
    from google.cloud import aiplatform

logger = logging.getLogger(__name__)

DEFAULT_MACHINE_TYPE = "n1-standard-2"
DEFAULT_MODEL_NAME = "churn-model"
DEFAULT_ENDPOINT_NAME = "churn-endpoint"
# Settings the serving container reads; Vertex sets the AIP_* ones itself.
DEFAULT_CONTAINER_ENV = {"VERTEX_CPR_WEB_CONCURRENCY": "2", "CHURN_MAX_INSTANCES": "1000"}
PREDICTION_FIELDS = ("churn_probability", "churn_prediction", "risk_level", "model_version")
_TERMINAL_JOB_STATES = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"}


class DeployError(RuntimeError):
    """A Vertex resource is missing or answered something unusable."""


@dataclass(frozen=True)
class VertexTarget:
    project: str
    region: str
    api_endpoint: str | None = None

    @property
    def is_plaintext_endpoint(self) -> bool:
        return bool(self.api_endpoint and self.api_endpoint.startswith("http://"))


def init_sdk(target: VertexTarget) -> None:
    """Point the SDK at ``target``.

    An ``http://`` API endpoint is a local fake or emulator: it gets anonymous credentials,
    both because there are none to find and because real ones must not cross plain HTTP.
    """
    from google.cloud import aiplatform

    credentials = None
    if target.is_plaintext_endpoint:
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    aiplatform.init(
        project=target.project,
        location=target.region,
        api_endpoint=target.api_endpoint,
        api_transport="rest",
        credentials=credentials,
    )


# -- resolving names -------------------------------------------------------------------------


def _is_resource_id(ref: str) -> bool:
    return ref.startswith("projects/") or ref.isdigit()


def find_model(ref: str) -> aiplatform.Model:
    """A Model by resource name, numeric id or display name (newest when several share it)."""
    from google.api_core.exceptions import NotFound
    from google.cloud import aiplatform

    if _is_resource_id(ref):
        try:
            return aiplatform.Model(ref)
        except NotFound:
            raise DeployError(f"model {ref} not found") from None
    models = aiplatform.Model.list(filter=f'display_name="{ref}"')
    if not models:
        raise DeployError(f"no model named {ref!r}")
    return max(models, key=lambda m: m.create_time)


def find_endpoint(ref: str) -> aiplatform.Endpoint | None:
    """An Endpoint by resource name, numeric id or display name; None when there is none."""
    from google.api_core.exceptions import NotFound
    from google.cloud import aiplatform

    if _is_resource_id(ref):
        endpoint = aiplatform.Endpoint(ref)
        try:
            endpoint.gca_resource  # noqa: B018 - Endpoint() is lazy; this is the GET
        except NotFound:
            return None
        return endpoint
    endpoints = aiplatform.Endpoint.list(filter=f'display_name="{ref}"')
    if len(endpoints) > 1:
        names = ", ".join(e.resource_name for e in endpoints)
        raise DeployError(f"several endpoints are named {ref!r} ({names}); pass a resource name")
    return endpoints[0] if endpoints else None


def _require_endpoint(ref: str) -> aiplatform.Endpoint:
    endpoint = find_endpoint(ref)
    if endpoint is None:
        raise DeployError(f"endpoint {ref!r} not found")
    return endpoint


def label_value(text: str) -> str:
    """Vertex label values: lowercase letters, digits, '-' and '_', at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]


# -- commands --------------------------------------------------------------------------------


def upload_model(
    model_dir: Path,
    gcs_prefix: str,
    image_uri: str,
    display_name: str = DEFAULT_MODEL_NAME,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Verify the bundle, copy it to ``gcs_prefix/<model_version>`` and register a Model."""
    from google.cloud import aiplatform

    import churn_core

    bundle = churn_core.Predictor.from_bundle(model_dir)  # refuses a tampered bundle
    artifact_uri = f"{gcs_prefix.rstrip('/')}/{bundle.model_version}"
    files = storage.upload_dir(Path(model_dir), artifact_uri)
    model = aiplatform.Model.upload(
        display_name=display_name,
        artifact_uri=artifact_uri,
        serving_container_image_uri=image_uri,
        serving_container_predict_route=DEFAULT_PREDICT_ROUTE,
        serving_container_health_route=DEFAULT_HEALTH_ROUTE,
        serving_container_ports=[DEFAULT_PORT],
        serving_container_environment_variables={**DEFAULT_CONTAINER_ENV, **(env or {})},
        labels={"model_version": label_value(bundle.model_version)},
    )
    return {
        "model": model.resource_name,
        "model_version": bundle.model_version,
        "artifact_uri": artifact_uri,
        "files": len(files),
    }


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
        if _is_resource_id(endpoint_ref):
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
    return endpoint_status(_require_endpoint(endpoint_ref))


def test_endpoint(
    endpoint_ref: str = DEFAULT_ENDPOINT_NAME,
    customers: Sequence[Mapping[str, Any]] = SAMPLE_CUSTOMERS,
    explain: bool = False,
) -> dict[str, Any]:
    """Predict ``customers`` through the endpoint and check each answer has the contract fields."""
    endpoint = _require_endpoint(endpoint_ref)
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
    endpoint = find_endpoint(endpoint_ref)
    if endpoint is None:
        return {"endpoint": endpoint_ref, "deleted": False, "reason": "not found"}
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
        "undeployed_models": models,
        "deleted_models": deleted_models,
    }


def batch_predict(
    model_ref: str,
    sources: Sequence[str],
    destination: str,
    machine_type: str = DEFAULT_MACHINE_TYPE,
    starting_replicas: int = 1,
    max_replicas: int = 4,
    explain: bool = False,
    display_name: str = "churn-batch",
    wait: bool = False,
    poll_seconds: float = 30.0,
) -> dict[str, Any]:
    """Create a BatchPredictionJob from JSON-lines customers in GCS to a GCS prefix.

    Vertex sends the lines to the serving container in ``{"instances": [...]}`` batches, with
    ``parameters`` taken from model_parameters, so the same predictor serves both paths.
    """
    from google.cloud import aiplatform

    storage.split_gcs_uri(destination)
    for uri in sources:  # fail here, not minutes into the job; wildcards are Vertex's to expand
        if "*" not in uri and not storage.exists(uri):
            raise DeployError(f"batch source {uri} does not exist")
    job = aiplatform.BatchPredictionJob.submit(
        job_display_name=display_name,
        model_name=find_model(model_ref),
        instances_format="jsonl",
        predictions_format="jsonl",
        gcs_source=list(sources),
        gcs_destination_prefix=destination,
        model_parameters={"explain": explain},
        machine_type=machine_type,
        starting_replica_count=starting_replicas,
        max_replica_count=max_replicas,
    )
    state = job.state.name
    while wait and state not in _TERMINAL_JOB_STATES:
        time.sleep(poll_seconds)
        job = aiplatform.BatchPredictionJob(job.resource_name)
        state = job.state.name
    result = {"job": job.resource_name, "state": state}
    output = job.gca_resource.output_info.gcs_output_directory
    if output:
        result["output_directory"] = output
    if state == "JOB_STATE_FAILED":
        raise DeployError(f"batch job {job.resource_name} failed: {job.gca_resource.error.message}")
    return result
