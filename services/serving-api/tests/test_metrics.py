"""Batched metric updates expose what one-by-one updates would."""

import random

from prometheus_client import generate_latest

from serving_api.metrics import Metrics


def _samples(metrics: Metrics) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {name: float(value) for name, value in (line.rsplit(" ", 1) for line in lines)}


def test_a_batch_of_predictions_is_counted_as_one_by_one():
    rng = random.Random(3)
    # bucket edges exactly, both ends, and random values
    values = [0.0, 0.05, 0.3, 0.7, 1.0, 0.95, 0.9500001] + [rng.random() for _ in range(500)]
    levels = ["LOW" if v < 0.3 else "MEDIUM" if v < 0.7 else "HIGH" for v in values]
    batched, single = Metrics(), Metrics()
    batched.observe_predictions(values, levels)
    for value, level in zip(values, levels, strict=True):
        single.observe_predictions([value], [level])
    ours, theirs = _samples(batched), _samples(single)
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        if name.endswith("_sum"):
            assert abs(ours[name] - value) <= 1e-9
        else:
            assert ours[name] == value, name
    assert ours['serving_predictions_total{risk_level="HIGH"}'] == levels.count("HIGH")
