"""Drift between a reference sample and current traffic: KS, chi-square and PSI per feature,
prediction drift, and data quality — vectorised, so a million rows take seconds.

``stats`` holds the statistics, ``sources`` reads the rows (capture files through
``churn_core.capture``), ``report`` builds the JSON report, ``summary_page`` renders it as a
light HTML page, ``sinks`` pushes it to a Pushgateway or renders Evidently's HTML. The names
below are the public interface.
"""

from churn_core.capture import PROBABILITY
from churn_core.data import DataValidationError
from churn_core.drift.distances import per_feature_distance_thresholds
from churn_core.drift.report import REPORT_SCHEMA_VERSION, Thresholds, compare
from churn_core.drift.sinks import push_metrics, write_html
from churn_core.drift.sources import read_current, read_reference
from churn_core.drift.stats import PSI_BINS, feature_drift, is_discrete, psi, quantile_psi
from churn_core.drift.summary_page import summary_page, summary_path_for, write_summary

__all__ = [
    "PROBABILITY",
    "PSI_BINS",
    "REPORT_SCHEMA_VERSION",
    "DataValidationError",
    "Thresholds",
    "compare",
    "feature_drift",
    "is_discrete",
    "per_feature_distance_thresholds",
    "psi",
    "push_metrics",
    "quantile_psi",
    "read_current",
    "read_reference",
    "summary_page",
    "summary_path_for",
    "write_html",
    "write_summary",
]
