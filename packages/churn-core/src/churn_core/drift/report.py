"""The drift report: features, prediction and data quality compared, as a JSON-ready dict.

A feature is flagged when its PSI reaches ``psi_threshold`` or its test's p-value is below
``p_threshold`` divided by the number of features tested (Bonferroni), so the chance of any
false alarm on a drift-free batch stays near ``p_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_core.capture import PROBABILITY
from churn_core.data import DataValidationError, split_valid
from churn_core.drift.stats import feature_drift, histogram, numeric_test

if TYPE_CHECKING:
    import pandas as pd

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    p_value: float = 0.01
    invalid_share: float = 0.01
    # Below this many valid rows PSI and the tests say nothing: a handful of captured requests
    # would flag every feature. Too few rows is an error to report, not drift.
    min_rows: int = 100


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    thresholds: Thresholds = Thresholds(),
    sources: tuple[str, str] = ("reference", "current"),
) -> dict[str, Any]:
    """The drift report as a JSON-ready dict (documented in churn-core's README)."""
    ref_valid, _ = split_valid(reference)
    check_rows(len(current), sources[1])
    cur_valid, failures = split_valid(current)
    check_valid_rows(len(cur_valid), failures, thresholds, sources[1])
    prediction = None
    if PROBABILITY in reference.columns and PROBABILITY in current.columns:
        ref_p = reference[PROBABILITY].dropna().to_numpy(float)
        cur_p = current[PROBABILITY].dropna().to_numpy(float)
        if ref_p.size and cur_p.size:
            prediction = numeric_test(ref_p, cur_p)
            prediction["mean"] = {"reference": float(ref_p.mean()), "current": float(cur_p.mean())}
            prediction["histogram"] = histogram(ref_p, cur_p, bounds=(0.0, 1.0))
    return build_report(
        feature_drift(ref_valid, cur_valid),
        prediction,
        Counts(
            len(ref_valid),
            len(current),
            len(current) - len(cur_valid),
            failures,
            # Capture lines cut short by a crash or a full disk (never whole records), skipped.
            torn_lines=int(current.attrs.get("torn_lines", 0)),
        ),
        thresholds,
        sources,
    )


@dataclass(frozen=True)
class Counts:
    """Rows behind a report: valid reference rows, current rows, invalid current rows, and
    (some of) the invalid rows' failures."""

    reference_rows: int
    rows: int
    invalid_rows: int
    failures: list[dict[str, Any]]
    torn_lines: int = 0


def check_rows(rows: int, source: str) -> None:
    if rows == 0:
        raise DataValidationError(
            [{"row": None, "field": "(current)", "value": source, "check": "rows"}],
            f"{source}: no rows to check",
        )


def check_valid_rows(
    valid_rows: int, failures: list[dict[str, Any]], thresholds: Thresholds, source: str
) -> None:
    if valid_rows < thresholds.min_rows:
        raise DataValidationError(
            failures,
            f"{source}: {valid_rows} valid rows, too few to judge drift "
            f"(at least {thresholds.min_rows}, --min-rows)",
        )


def build_report(
    features: dict[str, dict[str, Any]],
    prediction: dict[str, Any] | None,
    counts: Counts,
    thresholds: Thresholds,
    sources: tuple[str, str],
) -> dict[str, Any]:
    """Decisions (thresholds, Bonferroni) over computed statistics: the one place they are made,
    whichever engine computed the statistics."""
    corrected = thresholds.p_value / len(features)
    for result in features.values():
        result["drifted"] = bool(result["psi"] >= thresholds.psi or result["p_value"] < corrected)
    if prediction is not None:
        prediction["drifted"] = bool(
            prediction["psi"] >= thresholds.psi or prediction["p_value"] < thresholds.p_value
        )
    invalid_share = counts.invalid_rows / counts.rows
    quality = {
        "rows": counts.rows,
        "invalid_rows": counts.invalid_rows,
        "invalid_share": invalid_share,
        "failed": invalid_share > thresholds.invalid_share,
        "torn_lines": counts.torn_lines,
        "failures": [{k: _plain(v) for k, v in f.items()} for f in counts.failures[:50]],
    }
    drifted = [name for name, result in features.items() if result["drifted"]]
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "reference": {"source": sources[0], "rows": counts.reference_rows},
        "current": {"source": sources[1], "rows": counts.rows - counts.invalid_rows},
        "thresholds": {
            "psi": thresholds.psi,
            "p_value": thresholds.p_value,
            "p_value_corrected": corrected,
            "correction": "bonferroni",
            "invalid_share": thresholds.invalid_share,
        },
        "features": features,
        "prediction": prediction,
        "data_quality": quality,
        "drifted_features": drifted,
        "drift": bool(drifted) or bool(prediction and prediction["drifted"]) or quality["failed"],
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
