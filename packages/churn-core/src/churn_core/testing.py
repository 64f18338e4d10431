"""Helpers for the test suites of churn-core and the services: hypothesis strategies for
valid customers, derived from the one schema (hypothesis is a dev dependency, imported lazily)."""

from __future__ import annotations

from typing import Any

from churn_core.schema import FEATURES, FeatureSpec


def _field(spec: FeatureSpec) -> Any:
    from hypothesis import strategies as st

    if spec.categories is not None:
        return st.sampled_from(spec.categories)
    if spec.kind == "int":
        return st.integers(int(spec.minimum or 0), int(spec.maximum or 0))
    upper = spec.maximum if spec.maximum is not None else 1e7
    return st.floats(spec.minimum, upper, allow_nan=False, allow_infinity=False)


def customers_strategy() -> Any:
    """A hypothesis strategy drawing one valid customer (a dict with the JSON field names)."""
    from hypothesis import strategies as st

    return st.fixed_dictionaries({spec.name: _field(spec) for spec in FEATURES})


def free_port() -> int:
    """A free TCP port on loopback, for starting a real server in a test or benchmark."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
