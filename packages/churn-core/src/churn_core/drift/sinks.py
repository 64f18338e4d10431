"""Where a drift report goes besides JSON: a Prometheus Pushgateway, an Evidently HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from churn_core.capture import PROBABILITY
from churn_core.schema import FEATURE_NAMES

if TYPE_CHECKING:
    import pandas as pd


def push_metrics(report: dict[str, Any], url: str, job: str = "churn-drift") -> None:
    """Push the report's gauges to a Prometheus Pushgateway."""
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

    registry = CollectorRegistry()
    labels = ["feature"]
    psi_gauge = Gauge("churn_drift_psi", "PSI per feature", labels, registry=registry)
    stat = Gauge("churn_drift_statistic", "KS or chi-square statistic", labels, registry=registry)
    p_gauge = Gauge("churn_drift_p_value", "Test p-value per feature", labels, registry=registry)
    flag = Gauge(
        "churn_drift_feature_drifted", "1 if the feature drifted", labels, registry=registry
    )
    for name, result in report["features"].items():
        psi_gauge.labels(name).set(result["psi"])
        stat.labels(name).set(result["statistic"])
        p_gauge.labels(name).set(result["p_value"])
        flag.labels(name).set(int(result["drifted"]))
    if report["prediction"]:
        psi_gauge.labels(PROBABILITY).set(report["prediction"]["psi"])
        stat.labels(PROBABILITY).set(report["prediction"]["statistic"])
        p_gauge.labels(PROBABILITY).set(report["prediction"]["p_value"])
        flag.labels(PROBABILITY).set(int(report["prediction"]["drifted"]))
    Gauge("churn_drift_detected", "1 if drift was detected", registry=registry).set(
        int(report["drift"])
    )
    Gauge("churn_drift_rows_checked", "Valid current rows compared", registry=registry).set(
        report["current"]["rows"]
    )
    Gauge("churn_drift_invalid_share", "Share of invalid current rows", registry=registry).set(
        report["data_quality"]["invalid_share"]
    )
    Gauge(
        "churn_drift_last_run_timestamp_seconds", "When the drift job last ran", registry=registry
    ).set_to_current_time()
    push_to_gateway(url, job=job, registry=registry)


def write_html(reference: pd.DataFrame, current: pd.DataFrame, out: str | Path) -> None:
    """An Evidently data-drift report (Evidently is imported only here: it takes seconds)."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    columns = list(FEATURE_NAMES)
    snapshot = Report([DataDriftPreset()]).run(
        current_data=current[columns], reference_data=reference[columns]
    )
    snapshot.save_html(str(out))
