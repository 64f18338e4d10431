"""Registering a verified bundle as a Vertex Model (the ``upload`` command)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vertex_predictor import storage
from vertex_predictor.deploy.client import label_value
from vertex_predictor.server import DEFAULT_HEALTH_ROUTE, DEFAULT_PORT, DEFAULT_PREDICT_ROUTE

DEFAULT_MODEL_NAME = "churn-model"
# Settings the serving container reads; Vertex sets the AIP_* ones itself.
DEFAULT_CONTAINER_ENV = {"VERTEX_CPR_WEB_CONCURRENCY": "2", "CHURN_MAX_INSTANCES": "1000"}


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
