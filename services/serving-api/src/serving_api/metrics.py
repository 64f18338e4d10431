"""Prometheus metrics. One process per pod uses a private registry; with several workers the
``PROMETHEUS_MULTIPROC_DIR`` environment variable switches prometheus-client to its
multiprocess mode (set by the CLI before anything imports prometheus_client) and /metrics
aggregates the files of every worker."""

from __future__ import annotations

import os
from bisect import bisect_left
from collections import Counter as Counter_
from collections import deque
from collections.abc import Sequence
from typing import Any, get_args

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from churn_core.schema import RiskLevel

# The *_created series double the exposition for no use in dashboards or alerts.
disable_created_metrics()

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip
EXPLAIN_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0)
PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
# Observations kept before they are handed to prometheus-client in one go (memory stays small).
FLUSH_AT = 1024


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """``histogram.observe(v)`` for every value, with one increment per bucket that got any.

    prometheus-client offers no bulk observe; this adds to the same per-bucket values its
    ``observe`` does (``_buckets``, ``_sum``: private, so a test checks the exposition against
    one-by-one observe()). A value goes to the first bucket whose upper bound is >= it."""
    bounds = histogram._upper_bounds
    per_bucket = Counter_(bisect_left(bounds, value) for value in values)
    for index, count in per_bucket.items():
        histogram._buckets[index].inc(count)
    histogram._sum.inc(sum(values))


def _drain(waiting: deque[Any]) -> list[Any]:
    taken = []
    while True:
        try:
            taken.append(waiting.popleft())
        except IndexError:
            return taken


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "serving_requests_total",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "serving_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "serving_predictions_total", "Predictions by risk level.", ["risk_level"], registry=r
        )
        self.probability = Histogram(
            "serving_churn_probability",
            "Predicted churn probability.",
            buckets=PROBABILITY_BUCKETS,
            registry=r,
        )
        self.explain_latency = Histogram(
            "serving_explain_duration_seconds",
            "Time to predict and explain one request's customers.",
            buckets=EXPLAIN_BUCKETS,
            registry=r,
        )
        self.model_info = Gauge(
            "serving_model_info",
            "The served model (value 1), by model version and whether a trusted key's signature "
            "was verified (signed=true|false).",
            ["model_version", "signed"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.model_ready = Gauge(
            "serving_model_ready",
            "1 once the model is loaded and warmed.",
            multiprocess_mode="livemin",
            registry=r,
        )
        self.model_load_failed = Gauge(
            "serving_model_load_failed",
            "1 when the bundle could not be loaded (missing, corrupt, tampered, untrusted "
            "signature): the process stays up and unready, /readyz gives the reason.",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.capture_queue_depth = Gauge(
            "serving_capture_queue_depth",
            "Prediction records waiting for the capture writer.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.capture_written = Counter(
            "serving_capture_records_total", "Prediction records written to capture.", registry=r
        )
        self.capture_dropped = Counter(
            "serving_capture_dropped_total",
            "Prediction records dropped because the capture queue was full or failed.",
            registry=r,
        )
        # Children resolved once: labels() takes a lock and a dict lookup on every call.
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._risk_children = {
            level: self.predictions.labels(level) for level in get_args(RiskLevel)
        }
        # One request's observations wait here and reach prometheus-client in bulk (``flush``):
        # six locked updates per /predict cost ~3 µs, a deque append well under one. /metrics
        # flushes first, so a scrape sees every request answered before it. With several
        # workers each worker's own flush would come too late for a scrape another worker
        # answers, so there every observation is flushed at once (``flush_at`` 1).
        self.flush_at = FLUSH_AT if multiprocess_dir() is None else 1
        self._requests: deque[tuple[tuple[str, str, int], float]] = deque()
        self._predictions: deque[tuple[float, str]] = deque()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.append(((route, method, status), seconds))
        if len(self._requests) >= self.flush_at:
            self.flush()

    def observe_predictions(
        self, probabilities: Sequence[float], risk_levels: Sequence[str]
    ) -> None:
        """One request's predictions. One (every /predict) waits for the next flush; a batch
        is counted first and added once per label and bucket: 1,000 observe() calls took ~3 ms
        of a 1,000-row request (py-spy), each taking locks; the exposition is the same."""
        if len(probabilities) == 1:
            self.observe_prediction(probabilities[0], risk_levels[0])
        else:
            self._add_predictions(probabilities, risk_levels)

    def observe_prediction(self, probability: float, risk_level: str) -> None:
        """One prediction (every plain /predict): queued until the next flush."""
        self._predictions.append((probability, risk_level))
        if len(self._predictions) >= self.flush_at:
            self.flush()

    def flush(self) -> None:
        """Hand the waiting observations to prometheus-client (safe from any thread: each is
        taken off its deque exactly once)."""
        by_request: dict[tuple[str, str, int], list[float]] = {}
        for key, seconds in _drain(self._requests):
            by_request.setdefault(key, []).append(seconds)
        for key, values in by_request.items():
            counter, latency = self._children(key)
            counter.inc(len(values))
            observe_many(latency, values)
        predictions = _drain(self._predictions)
        if predictions:
            probabilities, levels = zip(*predictions, strict=True)
            self._add_predictions(probabilities, levels)

    def _children(self, key: tuple[str, str, int]) -> tuple[Counter, Histogram]:
        children = self._request_children.get(key)
        if children is None:
            route, method, status = key
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
            )
            self._request_children[key] = children
        return children

    def _add_predictions(self, probabilities: Sequence[float], levels: Sequence[str]) -> None:
        for level, count in Counter_(levels).items():
            self._risk_children[level].inc(count)
        observe_many(self.probability, probabilities)

    def set_model(self, model_version: str, signed: bool) -> None:
        self.model_info.clear()
        self.model_info.labels(model_version, "true" if signed else "false").set(1)

    def render(self) -> tuple[bytes, str]:
        self.flush()
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry), CONTENT_TYPE_LATEST
