"""The served model: loading, warm-up, readiness, and the one predict call every route uses."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from churn_core.schema import FEATURES
from serving_api.capture import CaptureBatch, CaptureWriter
from serving_api.logging import request_id_var
from serving_api.metrics import Metrics

if TYPE_CHECKING:
    from churn_core import Prediction, Predictor

logger = logging.getLogger(__name__)


def warmup_customers() -> list[dict[str, Any]]:
    """A few valid customers spread over the schema's ranges, built from churn-core's FEATURES."""
    out = []
    for i, fraction in enumerate((0.1, 0.5, 0.9)):
        customer: dict[str, Any] = {}
        for spec in FEATURES:
            if spec.categories is not None:
                customer[spec.name] = spec.categories[i % len(spec.categories)]
                continue
            low = spec.minimum if spec.minimum is not None else 0
            high = spec.maximum if spec.maximum is not None else low + 200_000
            value = low + fraction * (high - low)
            customer[spec.name] = round(value) if spec.kind == "int" else float(round(value, 2))
        out.append(customer)
    return out


class ModelService:
    def __init__(
        self,
        metrics: Metrics,
        capture: CaptureWriter | None,
        loader: Callable[[], Predictor] | None = None,
        predictor: Predictor | None = None,
        warmup_rounds: int = 5,
    ) -> None:
        if loader is None and predictor is None:
            raise ValueError("give a predictor or a loader")
        self.metrics = metrics
        self.capture = capture
        self.loader = loader
        self.predictor: Predictor | None = predictor
        self.warmup_rounds = warmup_rounds
        self.ready = False
        self.failure: str | None = None
        self.manifest_json = b"{}"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Load (if needed) and warm up in the background: /healthz answers meanwhile."""
        self._thread = threading.Thread(
            target=self._load_and_warm, name="model-loader", daemon=True
        )
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.ready

    def _load_and_warm(self) -> None:
        started = time.perf_counter()
        try:
            if self.predictor is None:
                assert self.loader is not None
                self.predictor = self.loader()
            predictor = self.predictor
            self.manifest_json = orjson.dumps(predictor.manifest)
            customers = warmup_customers()
            for _ in range(self.warmup_rounds):
                for customer in customers:
                    predictor.predict([customer])
                predictor.predict(customers)
            predictor.predict(customers[:1], explain=True)
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}".splitlines()[0]
            logger.exception("model could not be loaded or warmed; staying not ready")
            return
        self.metrics.set_model(predictor.model_version)
        self.metrics.model_ready.set(1)
        self.ready = True
        logger.info(
            "model ready",
            extra={
                "model_version": predictor.model_version,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    def predict(
        self, customers: Sequence[Mapping[str, Any]], explain: bool = False
    ) -> list[Prediction]:
        """Predict (churn_core validates strictly and raises InvalidCustomerError), then
        record metrics and queue the capture records."""
        predictor = self.predictor
        assert predictor is not None
        if explain:
            started = time.perf_counter()
            predictions = predictor.predict(customers, explain=True)
            self.metrics.explain_latency.observe(time.perf_counter() - started)
        else:
            predictions = predictor.predict(customers)
        self.metrics.observe_predictions(
            [p.churn_probability for p in predictions], [p.risk_level for p in predictions]
        )
        if self.capture is not None:
            self.capture.submit(
                CaptureBatch(time.time(), request_id_var.get(), customers, predictions)
            )
        return predictions
