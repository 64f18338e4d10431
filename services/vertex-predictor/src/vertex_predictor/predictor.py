"""The Custom Prediction Routine: Vertex's request envelope around churn-core's Predictor."""

from __future__ import annotations

import logging
from typing import Any

from google.cloud.aiplatform.prediction.predictor import Predictor

import churn_core
from churn_core.envelope import Envelope, EnvelopeError, parse_envelope
from churn_core.schema import validate_customers
from vertex_predictor.config import Settings
from vertex_predictor.storage import StorageError, local_bundle

logger = logging.getLogger(__name__)

# The envelope's error is the one this module has always raised; handler.py answers it with 400.
InvalidRequestError = EnvelopeError


class ChurnPredictor(Predictor):
    def __init__(self, settings: Settings | None = None) -> None:
        self._model: churn_core.Predictor | None = None
        self.max_instances = (settings or Settings()).max_instances
        # Why the bundle was refused, safe to publish on the health route (None: not refused).
        self.failure_reason: str | None = None

    @property
    def model(self) -> churn_core.Predictor:
        if self._model is None:
            raise RuntimeError("ChurnPredictor.load() has not been called")
        return self._model

    def load(self, artifacts_uri: str, **kwargs: Any) -> None:
        """Load and verify the bundle at a local path or gs:// URI, then warm the model up.

        The signature (trust policy: CHURN_TRUSTED_PUBLIC_KEYS) is checked on the downloaded
        copy. A missing or refused bundle does not stop the server: it stays up and the health
        route answers 503 with the reason."""
        if not artifacts_uri:
            raise ValueError("no model bundle given: set AIP_STORAGE_URI or pass --model-dir")
        try:
            with local_bundle(artifacts_uri) as bundle_dir:
                model = churn_core.Predictor.from_bundle(bundle_dir)
        except (churn_core.BundleError, StorageError) as exc:
            self.failure_reason = getattr(
                exc, "public_reason", churn_core.BundleError.public_reason
            )
            logger.error(
                "model bundle %s not served: %s: %s", artifacts_uri, type(exc).__name__, exc
            )
            return
        # The first prediction pays for lazy setup; pay it before the health route answers.
        model.warm_up()
        model.compile_in_background()  # same answers, faster once done (churn_core.single_row)
        self._model = model

    def preprocess(self, prediction_input: Any) -> Envelope:
        """The envelope read and the customers validated once: predict() does not re-check."""
        envelope = parse_envelope(prediction_input, self.max_instances)
        return Envelope(validate_customers(envelope.instances), envelope.explain)

    def predict(self, instances: Envelope) -> list[churn_core.Prediction]:
        return self.model.predict_valid(instances.instances, explain=instances.explain)

    def postprocess(self, prediction_results: list[churn_core.Prediction]) -> dict[str, Any]:
        return {"predictions": [p.model_dump(exclude_none=True) for p in prediction_results]}
