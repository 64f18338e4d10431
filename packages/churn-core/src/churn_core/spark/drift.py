"""Drift with Spark: the current data is counted where it lies, never collected on the driver.

The reference (a bundle's training sample or a file, thousands of rows) stays on the driver and
fixes the bins. Each partition validates its rows with ``validate_batch`` (the scoring rule) and
counts them per bin; Spark sums the counts; the driver turns counts into statistics with
``churn_core.drift.stats`` and into decisions with ``churn_core.drift.report.build_report``:

* chi-square and PSI of discrete features, PSI of numeric ones: exact (they are functions of
  the counts, with the single-process bins);
* KS: exact for integer features with a small range (every value is a bin), otherwise from
  KS_BINS fine bins on the reference's quantiles, with the error bound reported per feature
  (``ks_error_bound``; see ``stats.ks_from_counts``);
* prediction drift on ``churn_probability`` when both sides carry it; invalid share.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_core.capture import PROBABILITY
from churn_core.data import split_valid
from churn_core.drift.report import (
    Counts,
    Thresholds,
    build_report,
    check_rows,
    check_valid_rows,
)
from churn_core.drift.stats import (
    discrete_test_counts,
    is_discrete,
    ks_bin_counts,
    ks_from_counts,
    ks_grid,
    level_counts,
    levels_of,
    psi,
    psi_bin_counts,
    psi_edges,
)
from churn_core.schema import FEATURES, FeatureSpec
from churn_core.spark.scoring import identifier_column, typed_features, validate_batch

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

COUNTS_SCHEMA = "name string, kind string, bin long, count double, detail string"
FAILURES_PER_PARTITION = 50  # the report shows 50 failures; more per partition is never needed


@dataclass(frozen=True)
class NumericBins:
    """The reference side of one numeric column: its values, PSI edges and KS grid."""

    reference: np.ndarray
    psi_edges: np.ndarray
    ks_grid: np.ndarray

    @classmethod
    def of(cls, reference: np.ndarray, spec: FeatureSpec | None = None) -> NumericBins:
        return cls(reference, psi_edges(reference), ks_grid(reference, spec))


def _rows(name: str, kind: str, counts: np.ndarray) -> list[tuple[str, str, int, float, None]]:
    return [(name, kind, i, float(c), None) for i, c in enumerate(counts) if c]


class _PartitionCounts:
    """Counts of one partition, summed over its Arrow batches, emitted once at the end."""

    def __init__(self, bins: dict[str, NumericBins], id_column: str | None):
        self.bins, self.id_column = bins, id_column
        self.totals: dict[tuple[str, str], np.ndarray] = {}
        self.rows = self.invalid = 0
        self.probability_sum = 0.0
        self.failures: list[dict[str, Any]] = []

    def _add(self, name: str, kind: str, counts: np.ndarray) -> None:
        key = (name, kind)
        self.totals[key] = self.totals[key] + counts if key in self.totals else counts

    def add(self, batch: pd.DataFrame) -> None:
        mask, bad, columns = validate_batch(batch)
        self.rows += len(batch)
        self.invalid += int((~mask).sum())
        ids = batch[self.id_column].to_numpy() if self.id_column else None
        for position, failures in bad.items():
            if len(self.failures) < FAILURES_PER_PARTITION:
                row = None if ids is None else ids[position]
                self.failures.extend({"row": row, **failure} for failure in failures)
        for spec in FEATURES:
            values = np.asarray(columns[spec.name])
            if is_discrete(spec):
                self._add(spec.name, "levels", level_counts(values, levels_of(spec)))
            else:
                self._numeric(spec.name, values.astype(float))
        if PROBABILITY in self.bins and PROBABILITY in batch.columns:
            probabilities = batch[PROBABILITY].dropna().to_numpy(float)
            self._numeric(PROBABILITY, probabilities)
            self.probability_sum += float(probabilities.sum())

    def _numeric(self, name: str, values: np.ndarray) -> None:
        self._add(name, "psi", psi_bin_counts(values, self.bins[name].psi_edges))
        self._add(name, "ks", ks_bin_counts(values, self.bins[name].ks_grid))

    def emit(self) -> pd.DataFrame:
        import pandas as pd

        rows: list[tuple[Any, ...]] = [
            ("", "rows", 0, float(self.rows), None),
            ("", "invalid", 0, float(self.invalid), None),
            (PROBABILITY, "sum", 0, self.probability_sum, None),
        ]
        for (name, kind), counts in self.totals.items():
            rows.extend(_rows(name, kind, counts))
        detail = (json.dumps(f, default=str) for f in self.failures[:FAILURES_PER_PARTITION])
        rows.extend(("", "failure", 0, 0.0, text) for text in detail)
        return pd.DataFrame(rows, columns=["name", "kind", "bin", "count", "detail"])


def _count_partitions(bins: dict[str, NumericBins], id_column: str | None) -> Any:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        counts = _PartitionCounts(bins, id_column)
        for batch in batches:
            counts.add(batch)
        yield counts.emit()

    return run


def reference_bins(
    ref_valid: pd.DataFrame, probabilities: np.ndarray | None
) -> dict[str, NumericBins]:
    """Bins of the numeric features (valid reference rows) and of the reference's predictions."""
    bins = {
        spec.name: NumericBins.of(ref_valid[spec.name].to_numpy(float), spec)
        for spec in FEATURES
        if not is_discrete(spec)
    }
    if probabilities is not None:
        bins[PROBABILITY] = NumericBins.of(probabilities)
    return bins


def _numeric_result(bins: NumericBins, counts: dict[str, np.ndarray]) -> dict[str, Any]:
    ks_counts = _padded(counts.get("ks"), 2 * bins.ks_grid.size + 1)
    psi_counts = _padded(counts.get("psi"), bins.psi_edges.size + 1)
    ref_psi = psi_bin_counts(bins.reference, bins.psi_edges)
    result = ks_from_counts(bins.reference, bins.ks_grid, ks_counts)
    result["psi"] = psi(ref_psi / bins.reference.size, psi_counts / psi_counts.sum())
    return result


def _dense(rows: list[Any]) -> dict[str, dict[str, np.ndarray]]:
    """{name: {kind: counts per bin}} from the summed (name, kind, bin, count) rows."""
    width: dict[tuple[str, str], int] = {}
    for row in rows:
        width[(row.name, row.kind)] = max(width.get((row.name, row.kind), 0), row.bin + 1)
    out: dict[str, dict[str, np.ndarray]] = {}
    for (name, kind), size in width.items():
        out.setdefault(name, {})[kind] = np.zeros(size)
    for row in rows:
        out[row.name][row.kind][row.bin] = row.total
    return out


def _padded(counts: np.ndarray | None, size: int) -> np.ndarray:
    out = np.zeros(size)
    if counts is not None:
        out[: counts.size] = counts
    return out


def spark_compare(
    reference: pd.DataFrame,
    current: DataFrame,
    thresholds: Thresholds | None = None,
    sources: tuple[str, str] = ("reference", "current"),
) -> dict[str, Any]:
    """``drift.compare`` with the current data as a Spark DataFrame: the same report shape and
    decisions; only counts (a few thousand rows) reach the driver."""
    from pyspark.sql import functions as F

    thresholds = thresholds or Thresholds()
    ref_valid, _ = split_valid(reference)
    probabilities = None
    if PROBABILITY in reference.columns and PROBABILITY in current.columns:
        probabilities = reference[PROBABILITY].dropna().to_numpy(float)
        probabilities = probabilities if probabilities.size else None
    bins = reference_bins(ref_valid, probabilities)
    frame = typed_features(current)
    counted = frame.mapInPandas(
        _count_partitions(bins, identifier_column(frame)), schema=COUNTS_SCHEMA
    ).persist()
    try:
        summed = (
            counted.where(F.col("kind") != "failure")
            .groupBy("name", "kind", "bin")
            .agg(F.sum("count").alias("total"))
            .collect()
        )
        failures = counted.where(F.col("kind") == "failure").limit(50).collect()
    finally:
        counted.unpersist()
    dense = _dense(summed)
    rows, invalid = int(dense[""]["rows"][0]), int(dense[""]["invalid"][0])
    check_rows(rows, sources[1])
    failure_list = [json.loads(row.detail) for row in failures]
    check_valid_rows(rows - invalid, failure_list, thresholds, sources[1])
    features: dict[str, dict[str, Any]] = {}
    for spec in FEATURES:
        counts = dense.get(spec.name, {})
        if is_discrete(spec):
            levels = levels_of(spec)
            ref_counts = level_counts(ref_valid[spec.name].to_numpy(), levels)
            cur_counts = _padded(counts.get("levels"), len(levels))
            features[spec.name] = {
                "kind": "discrete",
                **discrete_test_counts(ref_counts, cur_counts, levels),
            }
        else:
            features[spec.name] = {"kind": "numeric", **_numeric_result(bins[spec.name], counts)}
    prediction = None
    probability_counts = dense.get(PROBABILITY, {})
    if PROBABILITY in bins and probability_counts.get("psi") is not None:
        p_bins = bins[PROBABILITY]
        prediction = _numeric_result(p_bins, probability_counts)
        total = probability_counts["psi"].sum()
        prediction["mean"] = {
            "reference": float(p_bins.reference.mean()),
            "current": float(probability_counts["sum"][0] / total),
        }
    counts = Counts(len(ref_valid), rows, invalid, failure_list)
    return build_report(features, prediction, counts, thresholds, sources)
