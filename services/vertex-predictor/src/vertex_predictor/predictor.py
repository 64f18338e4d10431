"""The Custom Prediction Routine: Vertex's request envelope around churn-core's Predictor."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from google.cloud.aiplatform.prediction.predictor import Predictor

import churn_core
from churn_core.samples import SAMPLE_CUSTOMERS
from churn_core.schema import FieldError, InvalidCustomerError, validate_customers
from vertex_predictor.storage import local_bundle

DEFAULT_MAX_INSTANCES = 1000


def max_instances() -> int:
    return int(os.environ.get("CHURN_MAX_INSTANCES", DEFAULT_MAX_INSTANCES))


class InvalidRequestError(ValueError):
    """The request envelope (not a customer field) is malformed; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class PreparedRequest:
    instances: list[dict[str, Any]]
    explain: bool


class ChurnPredictor(Predictor):
    def __init__(self) -> None:
        self._model: churn_core.Predictor | None = None

    @property
    def model(self) -> churn_core.Predictor:
        if self._model is None:
            raise RuntimeError("ChurnPredictor.load() has not been called")
        return self._model

    def load(self, artifacts_uri: str, **kwargs: Any) -> None:
        """Load and verify the bundle at a local path or gs:// URI, then warm the model up."""
        if not artifacts_uri:
            raise ValueError("no model bundle given: set AIP_STORAGE_URI or pass --model-dir")
        with local_bundle(artifacts_uri) as bundle_dir:
            model = churn_core.Predictor.from_bundle(bundle_dir)
        # The first prediction pays for lazy setup; pay it before the health route answers.
        model.predict(SAMPLE_CUSTOMERS[:1], explain=True)
        self._model = model

    def preprocess(self, prediction_input: Any) -> PreparedRequest:
        if not isinstance(prediction_input, dict):
            raise InvalidRequestError("(body)", 'must be a JSON object {"instances": [...]}')
        instances = prediction_input.get("instances")
        if not isinstance(instances, list) or not instances:
            raise InvalidRequestError("instances", "must be a non-empty list of customers")
        limit = max_instances()
        if len(instances) > limit:
            raise InvalidRequestError("instances", f"at most {limit} instances per request")
        not_objects = [
            FieldError(index=i, field="(customer)", message="must be a JSON object")
            for i, instance in enumerate(instances)
            if not isinstance(instance, dict)
        ]
        if not_objects:
            raise InvalidCustomerError(not_objects)
        parameters = prediction_input.get("parameters")
        if parameters is None:
            parameters = {}
        if not isinstance(parameters, dict):
            raise InvalidRequestError("parameters", "must be a JSON object")
        explain = parameters.get("explain", False)
        if not isinstance(explain, bool):
            raise InvalidRequestError("parameters.explain", "must be true or false")
        return PreparedRequest(validate_customers(instances), explain)

    def predict(self, instances: PreparedRequest) -> list[churn_core.Prediction]:
        return self.model.predict(instances.instances, explain=instances.explain)

    def postprocess(self, prediction_results: list[churn_core.Prediction]) -> dict[str, Any]:
        return {"predictions": [p.model_dump(exclude_none=True) for p in prediction_results]}
