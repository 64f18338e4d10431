"""The drift summary page: one self-contained HTML file per drift run, built from the JSON report.

What a person checks after an alert: the verdict, each feature's test and decision, reference
against current distributions, prediction drift and the invalid-row share. Inline SVG and CSS
only (no script, no network resource), so it opens from a CI artifact or a mounted volume.
Evidently's page (``--html``) stays the deep-dive; this one is written on every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from churn_core import charts
from churn_core.html_page import Raw, chart_row, figure, page, table, tag, write

SUMMARY_SUFFIX = ".summary.html"
FAILURES_SHOWN = 10


def summary_path_for(json_path: str | Path) -> Path:
    """Where the summary goes next to a JSON report: ``drift.json`` → ``drift.summary.html``."""
    path = Path(json_path)
    return path.with_name(path.stem + SUMMARY_SUFFIX)


def _p(value: float) -> str:
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def _decision(result: dict[str, Any], thresholds: dict[str, Any], corrected: float) -> str:
    if not result["drifted"]:
        return "stable"
    reasons = []
    if result["psi"] >= thresholds["psi"]:
        reasons.append(f"PSI ≥ {thresholds['psi']:g}")
    if result["p_value"] < corrected:
        reasons.append(f"p < {corrected:.2g}")
    return "DRIFTED (" + ", ".join(reasons) + ")"


def _verdict(report: dict[str, Any]) -> Raw:
    if not report["drift"]:
        return tag(
            "p",
            "No drift: every feature, the predictions and the data quality are within "
            "their thresholds.",
            "verdict good",
        )
    causes = []
    if report["drifted_features"]:
        causes.append("drifted features: " + ", ".join(report["drifted_features"]))
    if report["prediction"] and report["prediction"]["drifted"]:
        causes.append("prediction drift")
    if report["data_quality"]["failed"]:
        causes.append("too many invalid rows")
    return tag("p", "Drift detected — " + "; ".join(causes), "verdict bad")


def _feature_table(report: dict[str, Any]) -> Raw:
    thresholds = report["thresholds"]
    corrected = thresholds["p_value_corrected"]
    rows, classes = [], []
    for name, result in report["features"].items():
        rows.append(
            (
                name,
                result["kind"],
                "KS" if result["test"] == "ks" else "chi-square",
                f"{result['statistic']:.4g}",
                _p(result["p_value"]),
                f"{result['psi']:.4f}",
                _decision(result, thresholds, corrected),
            )
        )
        classes.append("bad" if result["drifted"] else "")
    headers = ("feature", "kind", "test", "statistic", "p-value", "PSI", "decision")
    return table(headers, rows, classes, numeric=(3, 4, 5))


def _feature_chart(name: str, result: dict[str, Any]) -> Raw | None:
    caption = f"{name} — {'drifted' if result['drifted'] else 'stable'} (PSI {result['psi']:.3f})"
    if "shares" in result:
        levels = list(result["shares"])
        groups = {
            side: [result["shares"][level][side] for level in levels]
            for side in ("reference", "current")
        }
        svg = charts.grouped_bars(caption, levels, groups, y_label="share of rows")
    elif "histogram" in result:
        hist = result["histogram"]
        groups = {side: hist[side] for side in ("reference", "current")}
        svg = charts.histogram(caption, hist["edges"], groups, x_label=name)
    else:  # a report written before histograms were part of it
        return None
    return figure(caption, svg)


def _prediction(report: dict[str, Any]) -> list[Raw | str]:
    prediction = report["prediction"]
    if not prediction:
        return ["Not compared: the reference or the current rows carry no churn_probability."]
    corrected = report["thresholds"]["p_value"]  # one test: no correction
    row = (
        "churn_probability",
        f"{prediction['mean']['reference']:.4f}",
        f"{prediction['mean']['current']:.4f}",
        f"{prediction['statistic']:.4g}",
        _p(prediction["p_value"]),
        f"{prediction['psi']:.4f}",
        _decision(prediction, report["thresholds"], corrected),
    )
    headers = ("output", "mean (reference)", "mean (current)", "KS", "p-value", "PSI", "decision")
    out: list[Raw | str] = [
        table(headers, [row], ["bad" if prediction["drifted"] else ""], numeric=(1, 2, 3, 4, 5))
    ]
    if "histogram" in prediction:
        hist = prediction["histogram"]
        groups = {side: hist[side] for side in ("reference", "current")}
        svg = charts.histogram(
            "churn probability", hist["edges"], groups, x_label="churn probability"
        )
        out.append(chart_row([figure("Predicted churn probability", svg)]))
    return out


def _quality(report: dict[str, Any]) -> list[Raw | str]:
    quality, limit = report["data_quality"], report["thresholds"]["invalid_share"]
    verdict = "FAILED" if quality["failed"] else "ok"
    rows = [
        ("rows read", f"{quality['rows']:,}"),
        ("invalid rows", f"{quality['invalid_rows']:,}"),
        ("invalid-row share", f"{quality['invalid_share']:.2%} (limit {limit:.0%}): {verdict}"),
    ]
    out: list[Raw | str] = [
        table(("", "value"), rows, ["", "", "bad" if quality["failed"] else ""])
    ]
    failures = quality["failures"][:FAILURES_SHOWN]
    if failures:
        out.append(tag("p", f"First {len(failures)} rejected values:"))
        out.append(
            table(
                ("row", "field", "value", "check"),
                [(f.get("row"), f.get("field"), f.get("value"), f.get("check")) for f in failures],
            )
        )
    return out


def summary_page(report: dict[str, Any]) -> str:
    """The whole page for one drift report (the dict ``churn_core.drift.compare`` returns)."""
    reference, current = report["reference"], report["current"]
    figures = [
        chart
        for name, result in report["features"].items()
        if (chart := _feature_chart(name, result)) is not None
    ]
    sections: list[Raw | str] = [
        tag("h1", "Drift summary"),
        tag(
            "p",
            f"{report['generated_at']} · reference {reference['source']} "
            f"({reference['rows']:,} valid rows) · current {current['source']} "
            f"({current['rows']:,} valid rows)",
            "meta",
        ),
        _verdict(report),
        tag("h2", "Features"),
        tag(
            "p",
            f"A feature drifts when PSI ≥ {report['thresholds']['psi']:g} or its test's p-value "
            f"< {report['thresholds']['p_value']:g} / {len(report['features'])} "
            f"(Bonferroni: {report['thresholds']['p_value_corrected']:.2g}).",
        ),
        _feature_table(report),
        tag("h3", "Reference (blue) against current (orange)"),
        chart_row(figures),
        tag("h2", "Prediction drift"),
        *_prediction(report),
        tag("h2", "Data quality"),
        *_quality(report),
    ]
    return page(f"Drift summary — {'drift' if report['drift'] else 'no drift'}", sections)


def write_summary(report: dict[str, Any], path: str | Path) -> Path:
    """Write the summary page for ``report`` to ``path``; returns the path."""
    return write(path, summary_page(report))
