"""Drift statistics per feature: KS and quantile PSI for numbers, chi-square and PSI for counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from churn_core.schema import FEATURES, FeatureSpec

if TYPE_CHECKING:
    import pandas as pd

PSI_BINS = 10
HISTOGRAM_BINS = 20
_EPS = 1e-4  # floor for empty bins in PSI, as is customary


def is_discrete(spec: FeatureSpec) -> bool:
    """Categories, 0/1 flags and small integer ranges are compared as counts (chi-square)."""
    if spec.kind == "category" or spec.categories is not None:
        return True
    return spec.kind == "int" and (spec.maximum or 0) - (spec.minimum or 0) <= 10


def _levels(spec: FeatureSpec) -> list[Any]:
    if spec.categories is not None:
        return list(spec.categories)
    return list(range(int(spec.minimum or 0), int(spec.maximum or 0) + 1))


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two distributions given as bin shares."""
    e = np.clip(expected, _EPS, None)
    a = np.clip(actual, _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def quantile_psi(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1
    )
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1)
    return psi(ref_share / reference.size, cur_share / current.size)


def numeric_test(reference: np.ndarray, current: np.ndarray) -> dict[str, Any]:
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current, method="asymp")
    return {
        "test": "ks",
        "statistic": float(result.statistic),
        "p_value": float(result.pvalue),
        "psi": quantile_psi(reference, current),
    }


def discrete_test(reference: np.ndarray, current: np.ndarray, levels: list[Any]) -> dict[str, Any]:
    from scipy.stats import chi2_contingency

    ref_counts = np.array([np.sum(reference == level) for level in levels], dtype=float)
    cur_counts = np.array([np.sum(current == level) for level in levels], dtype=float)
    seen = (ref_counts + cur_counts) > 0
    table = np.vstack([ref_counts[seen], cur_counts[seen]])
    if table.shape[1] < 2:
        statistic, p_value = 0.0, 1.0
    else:
        statistic, p_value, _, _ = chi2_contingency(table)
    return {
        "test": "chi2",
        "statistic": float(statistic),
        "p_value": float(p_value),
        "psi": psi(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()),
        "shares": {
            str(level): {"reference": r / ref_counts.sum(), "current": c / cur_counts.sum()}
            for level, r, c in zip(levels, ref_counts, cur_counts, strict=True)
        },
    }


def histogram(
    reference: np.ndarray,
    current: np.ndarray,
    bins: int = HISTOGRAM_BINS,
    bounds: tuple[float, float] | None = None,
) -> dict[str, list[float]]:
    """Shares of each sample over equal-width bins, for the summary page's pictures.

    Without ``bounds`` the bins span both samples' 0.5th to 99.5th percentiles and the tails are
    counted in the end bins, so one extreme salary does not squash every other bar into one.
    """
    if bounds is None:
        low = float(min(np.quantile(reference, 0.005), np.quantile(current, 0.005)))
        high = float(max(np.quantile(reference, 0.995), np.quantile(current, 0.995)))
    else:
        low, high = bounds
    high = high if high > low else low + 1.0
    edges = np.linspace(low, high, bins + 1)

    def shares(values: np.ndarray) -> list[float]:
        counts, _ = np.histogram(np.clip(values, low, high), edges)
        return (counts / max(values.size, 1)).tolist()

    return {"edges": edges.tolist(), "reference": shares(reference), "current": shares(current)}


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, dict[str, Any]]:
    out = {}
    for spec in FEATURES:
        ref, cur = reference[spec.name].to_numpy(), current[spec.name].to_numpy()
        if is_discrete(spec):
            out[spec.name] = {"kind": "discrete", **discrete_test(ref, cur, _levels(spec))}
        else:
            ref, cur = ref.astype(float), cur.astype(float)
            numbers = numeric_test(ref, cur)
            out[spec.name] = {"kind": "numeric", **numbers, "histogram": histogram(ref, cur)}
    return out
