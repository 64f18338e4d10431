"""Our quicker metric updates (batched, or one value by binary search) expose exactly what
prometheus-client's own ``observe`` and ``inc`` would."""

import random

from prometheus_client import generate_latest

from serving_api.metrics import Metrics


def _samples(metrics: Metrics) -> dict[str, float]:
    text = metrics.render()[0].decode()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {name: float(value) for name, value in (line.rsplit(" ", 1) for line in lines)}


def test_a_batch_of_predictions_is_counted_as_one_by_one():
    rng = random.Random(3)
    # bucket edges exactly, both ends, and random values
    values = [0.0, 0.05, 0.3, 0.7, 1.0, 0.95, 0.9500001] + [rng.random() for _ in range(500)]
    levels = ["LOW" if v < 0.3 else "MEDIUM" if v < 0.7 else "HIGH" for v in values]
    batched, single, library = Metrics(), Metrics(), Metrics()
    batched.observe_predictions(values, levels)
    for value, level in zip(values, levels, strict=True):
        single.observe_predictions([value], [level])
        library.probability.observe(value)
        library.predictions.labels(level).inc()
    theirs = _samples(library)
    for ours in (_samples(batched), _samples(single)):
        _assert_same(ours, theirs)
        assert ours['serving_predictions_total{risk_level="HIGH"}'] == levels.count("HIGH")


def test_request_latency_is_bucketed_as_by_the_library():
    rng = random.Random(4)
    seconds = [0.0, 0.0005, 0.00050001, 0.01, 10.0, 11.0] + [
        rng.expovariate(500) for _ in range(500)
    ]
    ours, library = Metrics(), Metrics()
    for value in seconds:
        ours.observe_request("/predict", "POST", 200, value)
        library.requests.labels("/predict", "POST", "200").inc()
        library.latency.labels("/predict").observe(value)
    _assert_same(_samples(ours), _samples(library))


def _assert_same(ours: dict[str, float], theirs: dict[str, float]) -> None:
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        if name.endswith("_sum"):
            assert abs(ours[name] - value) <= 1e-9
        else:
            assert ours[name] == value, name


def test_waiting_observations_reach_the_registry_by_the_bound_or_a_scrape():
    metrics = Metrics()
    assert metrics.flush_at > 1  # one process: observations wait
    name = 'serving_requests_total{method="POST",route="/predict",status="200"}'

    def in_registry() -> float:
        text = generate_latest(metrics.registry).decode()  # the registry alone: no flush
        return next((float(s.split()[-1]) for s in text.splitlines() if s.startswith(name)), 0)

    for _ in range(metrics.flush_at - 1):
        metrics.observe_request("/predict", "POST", 200, 0.001)
        metrics.observe_predictions([0.5], ["MEDIUM"])
    assert in_registry() == 0
    metrics.observe_request("/predict", "POST", 200, 0.001)  # the bound: flushed without a scrape
    assert in_registry() == metrics.flush_at
    metrics.observe_request("/predict", "POST", 200, 0.001)
    assert _samples(metrics)[name] == metrics.flush_at + 1  # a scrape flushes first
    assert _samples(metrics)['serving_predictions_total{risk_level="MEDIUM"}'] == (
        metrics.flush_at - 1
    )


def test_with_several_workers_every_observation_is_flushed_at_once(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent")  # read by Metrics() only
    assert Metrics().flush_at == 1
