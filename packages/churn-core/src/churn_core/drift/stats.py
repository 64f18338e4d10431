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


def levels_of(spec: FeatureSpec) -> list[Any]:
    if spec.categories is not None:
        return list(spec.categories)
    return list(range(int(spec.minimum or 0), int(spec.maximum or 0) + 1))


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two distributions given as bin shares."""
    e = np.clip(expected, _EPS, None)
    a = np.clip(actual, _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_edges(reference: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner edges of the reference's quantile bins (ties merged)."""
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))


def psi_bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per PSI bin: bin k holds edges[k-1] <= value < edges[k]."""
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)


def quantile_psi(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    edges = psi_edges(reference, bins)
    ref_counts = psi_bin_counts(reference, edges)
    return psi(ref_counts / reference.size, psi_bin_counts(current, edges) / current.size)


def numeric_test(reference: np.ndarray, current: np.ndarray) -> dict[str, Any]:
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current, method="asymp")
    return {
        "test": "ks",
        "statistic": float(result.statistic),
        "p_value": float(result.pvalue),
        "psi": quantile_psi(reference, current),
    }


# Fine bins for the KS statistic from counts (the Spark engine): the reference's quantiles at
# 1/KS_BINS steps, or every integer of the schema's range when that is at most KS_BINS values.
KS_BINS = 1000


def ks_grid(reference: np.ndarray, spec: FeatureSpec | None = None) -> np.ndarray:
    """The points where the current sample's CDF is counted: every value a valid row can take
    for a small integer range (KS is then exact), else the reference's fine quantiles."""
    if spec is not None and spec.kind == "int" and spec.minimum is not None:
        low, high = int(spec.minimum), int(spec.maximum or spec.minimum)
        if high - low < KS_BINS:
            return np.arange(low, high + 1, dtype=float)
    return np.unique(np.quantile(reference, np.linspace(0, 1, KS_BINS + 1)))


def ks_bin_counts(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Counts per KS bin: bin 2j holds grid[j-1] < value < grid[j], bin 2j+1 value == grid[j],
    the last bin values above the grid. Both CDF limits at each grid point follow."""
    index = np.searchsorted(grid, values, side="left")
    inside = index < grid.size
    on_point = np.zeros(values.size, dtype=np.int64)
    on_point[inside] = values[inside] == grid[index[inside]]
    return np.bincount(2 * index + on_point, minlength=2 * grid.size + 1)


def ks_from_counts(
    reference: np.ndarray, grid: np.ndarray, current_counts: np.ndarray
) -> dict[str, Any]:
    """Two-sample KS with the current CDF known only at ``grid`` (the reference is exact).

    The statistic is the largest CDF gap at the grid points (the CDFs and their left limits), a
    lower bound of the true one. Between two grid points each CDF stays within its values at
    the two ends, so the true statistic is at most ``statistic + ks_error_bound``: about the
    larger of 1/KS_BINS and the current sample's share in one bin with quantile bins, and 0 when
    the grid holds every value (small integer ranges). The p-value is ks_2samp's asymptotic one
    (Smirnov's distribution at n·m/(n+m)) for the statistic.
    """
    from scipy.stats import kstwo

    n_ref, cumulative = reference.size, np.cumsum(current_counts)
    n_cur = int(cumulative[-1])
    ordered = np.sort(reference)
    ref_at, ref_below = (np.searchsorted(ordered, grid, side=s) / n_ref for s in ("right", "left"))
    cur_at, cur_below = cumulative[1::2] / n_cur, cumulative[0:-1:2] / n_cur
    statistic = float(max(np.max(np.abs(ref_at - cur_at)), np.max(np.abs(ref_below - cur_below))))
    # Open interval between two grid points (and beyond the ends): each CDF lies between its
    # value at the left point and its left limit at the right point.
    ref_low, cur_low = np.r_[0.0, ref_at], np.r_[0.0, cur_at]
    ref_high, cur_high = np.r_[ref_below, 1.0], np.r_[cur_below, 1.0]
    upper = max(statistic, float(np.max(ref_high - cur_low)), float(np.max(cur_high - ref_low)))
    m, n = sorted([float(n_ref), float(n_cur)], reverse=True)
    p_value = float(np.clip(kstwo.sf(statistic, np.round(m * n / (m + n))), 0, 1))
    return {
        "test": "ks",
        "statistic": statistic,
        "p_value": p_value,
        "ks_error_bound": upper - statistic,
    }


def level_counts(values: np.ndarray, levels: list[Any]) -> np.ndarray:
    return np.array([np.sum(values == level) for level in levels], dtype=float)


def discrete_test_counts(
    ref_counts: np.ndarray, cur_counts: np.ndarray, levels: list[Any]
) -> dict[str, Any]:
    """Chi-square and PSI from the two samples' counts per level (exact from counts alone)."""
    from scipy.stats import chi2_contingency

    ref_counts, cur_counts = np.asarray(ref_counts, float), np.asarray(cur_counts, float)
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
        # Both quantiles of a sample from one partial sort (each call copies the sample).
        ref_low, ref_high = np.quantile(reference, (0.005, 0.995))
        cur_low, cur_high = np.quantile(current, (0.005, 0.995))
        low, high = float(min(ref_low, cur_low)), float(max(ref_high, cur_high))
    else:
        low, high = bounds
    high = high if high > low else low + 1.0
    edges = np.linspace(low, high, bins + 1)

    def shares(values: np.ndarray) -> list[float]:
        counts, _ = np.histogram(np.clip(values, low, high), edges)
        return (counts / max(values.size, 1)).tolist()

    return {"edges": edges.tolist(), "reference": shares(reference), "current": shares(current)}


def discrete_test(reference: np.ndarray, current: np.ndarray, levels: list[Any]) -> dict[str, Any]:
    return discrete_test_counts(
        level_counts(reference, levels), level_counts(current, levels), levels
    )


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, dict[str, Any]]:
    out = {}
    for spec in FEATURES:
        ref, cur = reference[spec.name].to_numpy(), current[spec.name].to_numpy()
        if is_discrete(spec):
            out[spec.name] = {"kind": "discrete", **discrete_test(ref, cur, levels_of(spec))}
        else:
            # asarray: float columns are used as they are, not copied (astype always copies).
            ref, cur = np.asarray(ref, dtype=float), np.asarray(cur, dtype=float)
            numbers = numeric_test(ref, cur)
            out[spec.name] = {"kind": "numeric", **numbers, "histogram": histogram(ref, cur)}
    return out
