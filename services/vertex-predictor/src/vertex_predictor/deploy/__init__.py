"""Vertex AI operations through the aiplatform SDK, one module per job.

Every command returns a plain dict (what the CLI prints as JSON). The SDK always talks REST,
so one code path serves Google Cloud and the local fake API the tests run against.

- ``client``: the SDK pointed at a project and region; models and endpoints found by name
- ``model``: ``upload``: a verified bundle copied to GCS and registered as a Model
- ``endpoint``: ``deploy``, ``status``, ``test``, ``delete``
- ``traffic``: ``traffic`` (set the split: promote, roll back) and ``undeploy``
- ``batch``: batch prediction jobs
"""

from vertex_predictor.deploy.batch import batch_predict
from vertex_predictor.deploy.client import (
    DEFAULT_MACHINE_TYPE,
    DeployError,
    VertexTarget,
    find_endpoint,
    find_model,
    init_sdk,
    label_value,
)
from vertex_predictor.deploy.endpoint import (
    DEFAULT_ENDPOINT_NAME,
    PREDICTION_FIELDS,
    delete,
    deploy_model,
    endpoint_status,
    status,
    test_endpoint,
)
from vertex_predictor.deploy.model import DEFAULT_CONTAINER_ENV, DEFAULT_MODEL_NAME, upload_model
from vertex_predictor.deploy.traffic import set_traffic, undeploy

__all__ = [
    "DEFAULT_CONTAINER_ENV",
    "DEFAULT_ENDPOINT_NAME",
    "DEFAULT_MACHINE_TYPE",
    "DEFAULT_MODEL_NAME",
    "PREDICTION_FIELDS",
    "DeployError",
    "VertexTarget",
    "batch_predict",
    "delete",
    "deploy_model",
    "endpoint_status",
    "find_endpoint",
    "find_model",
    "init_sdk",
    "label_value",
    "set_traffic",
    "status",
    "test_endpoint",
    "undeploy",
    "upload_model",
]
