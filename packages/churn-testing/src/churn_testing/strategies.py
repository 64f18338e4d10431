"""Hypothesis strategies for valid customers, derived from the one schema."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from churn_core.schema import FEATURES, FeatureSpec


def _field(spec: FeatureSpec) -> st.SearchStrategy[Any]:
    if spec.categories is not None:
        return st.sampled_from(spec.categories)
    if spec.kind == "int":
        return st.integers(int(spec.minimum or 0), int(spec.maximum or 0))
    upper = spec.maximum if spec.maximum is not None else 1e7
    return st.floats(spec.minimum, upper, allow_nan=False, allow_infinity=False)


def customers_strategy() -> st.SearchStrategy[dict[str, Any]]:
    """One valid customer (a dict with the JSON field names)."""
    return st.fixed_dictionaries({spec.name: _field(spec) for spec in FEATURES})
