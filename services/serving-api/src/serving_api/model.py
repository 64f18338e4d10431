"""The served model: loading, warm-up, readiness, and the one predict call every route uses."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from churn_core.capture import capture_record, capture_records, capture_time
from churn_core.heap import freeze_loaded_heap
from serving_api.capture import CaptureWriter
from serving_api.errors import ApiError
from serving_api.logging import request_id_var
from serving_api.metrics import Metrics

if TYPE_CHECKING:
    from churn_core import Prediction, Predictor

logger = logging.getLogger(__name__)


class ModelService:
    def __init__(
        self,
        metrics: Metrics,
        capture: CaptureWriter | None,
        loader: Callable[[], Predictor] | None = None,
        predictor: Predictor | None = None,
        warmup_rounds: int = 5,
        max_concurrent_batches: int = 2,
        freeze_heap: bool = False,
    ) -> None:
        if loader is None and predictor is None:
            raise ValueError("give a predictor or a loader")
        self.metrics = metrics
        self.capture = capture
        self.loader = loader
        self.predictor: Predictor | None = predictor
        self.warmup_rounds = warmup_rounds
        # The server process's (not a test's): every object alive once the model is ready is
        # frozen out of later garbage collections (churn_core/heap.py).
        self.freeze_heap = freeze_heap
        # Explanations and large batches run in worker threads, this many at once: eight
        # 1,000-customer explained batches at a time pushed the process past the pod's limit,
        # then 384 MiB (benchmarks/memory_bench.py); the work is CPU-bound, so more at once is
        # not faster.
        self.batch_slots = asyncio.Semaphore(max_concurrent_batches)
        self.ready = False
        self.failure: str | None = None
        # Why a load failed, safe to publish on /readyz (None: not a bundle problem, not shown).
        self.failure_reason: str | None = None
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
                if self.loader is None:  # __init__ refuses this; kept for type checkers
                    raise RuntimeError("no predictor and no loader")
                self.predictor = self.loader()
            predictor = self.predictor
            self.manifest_json = orjson.dumps(predictor.describe())
            predictor.warm_up(self.warmup_rounds)
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self.failure_reason = getattr(exc, "public_reason", None)
            self.metrics.model_load_failed.set(1)
            logger.exception("model could not be loaded or warmed; staying not ready")
            return
        self.metrics.set_model(predictor.model_version, predictor.signature.verified)
        self.metrics.model_ready.set(1)
        frozen = freeze_loaded_heap() if self.freeze_heap else 0
        self.ready = True
        logger.info(
            "model ready",
            extra={
                "model_version": predictor.model_version,
                "seconds": round(time.perf_counter() - started, 3),
                "frozen_objects": frozen,
            },
        )
        self._compile(predictor)

    def _compile(self, predictor: Predictor) -> None:
        """Once ready: the single-row path compiled (churn_core.single_row), off the request
        path and with the same answers, then what compiling left behind frozen too."""
        started = time.perf_counter()
        try:
            compiled = predictor.compile_single_row()
        except Exception:  # only speed is at stake: keep serving through LightGBM's C API
            logger.exception("single-row path not compiled; LightGBM's C API serves it")
            return
        if compiled and self.freeze_heap:
            freeze_loaded_heap()
        logger.info(
            "single-row path: %s",
            predictor.single_row.engine,
            extra={"seconds": round(time.perf_counter() - started, 3)},
        )

    def require_ready(self) -> None:
        """The 503 every route answers until the model is loaded and warm (the one place)."""
        if not self.ready:
            raise ApiError(503, "model is not ready", {"Retry-After": "1"})

    def _loaded(self) -> Predictor:
        if self.predictor is None:
            raise RuntimeError("predict() before the model was loaded; routes check readiness")
        return self.predictor

    def predict(
        self, customers: Sequence[Mapping[str, Any]], explain: bool = False
    ) -> list[Prediction]:
        """Predict (churn_core validates strictly and raises InvalidCustomerError), then
        record metrics and queue the capture records."""
        if not explain and len(customers) == 1:
            return [self.predict_one(customers[0])]
        predictor = self._loaded()
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
                capture_records(customers, predictions, capture_time(), request_id_var.get())
            )
        return predictions

    def predict_one(
        self, customer: Mapping[str, Any], row: list[float] | None = None
    ) -> Prediction:
        """``predict`` of one customer, unexplained (every plain /predict), with nothing built
        for a batch of one; ``row``: its model features, when the caller has read them already
        (churn_core.json_customer)."""
        predictor = self._loaded()
        prediction = predictor.predict_one(customer) if row is None else predictor.predict_row(row)
        self.metrics.observe_prediction(prediction.churn_probability, prediction.risk_level)
        if self.capture is not None:
            self.capture.submit(
                [capture_record(customer, prediction, capture_time(), request_id_var.get())]
            )
        return prediction
