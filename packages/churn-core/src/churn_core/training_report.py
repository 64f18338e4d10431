"""The training report (``churn-core train --report DIR``): one self-contained HTML page.

Drawn from what training already computed: the out-of-fold predictions on the training part
(every choice, the threshold included, was made on them) for the ROC and precision-recall
curves, the calibration plot and the threshold sweep; the manifest for the hold-out metrics with
their bootstrap interval, the model-family comparison and the split-seed study; the served
explainer for each input feature's mean contribution on hold-out customers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_core import charts
from churn_core.html_page import Raw, chart_row, figure, page, table, tag, write
from churn_core.metrics import calibration, classification_metrics
from churn_core.schema import FEATURE_NAMES, FEATURES

if TYPE_CHECKING:
    from churn_core.predictor import Predictor

REPORT_FILE = "training-report.html"
CURVE_POINTS = 300  # enough for a smooth 440-pixel line, small enough for a light page
IMPORTANCE_TITLE = "Mean |contribution| to the probability"
SPLIT_SEED_COLUMNS = ("cv_roc_auc", "holdout_roc_auc", "holdout_brier")
SWEEP = np.round(np.linspace(0.01, 0.99, 99), 2)


def _thin(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if xs.size <= CURVE_POINTS:
        return xs, ys
    keep = np.unique(np.linspace(0, xs.size - 1, CURVE_POINTS).round().astype(int))
    return xs[keep], ys[keep]


def _rates_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = scores >= threshold
    positives, negatives = max(int(np.sum(labels == 1)), 1), max(int(np.sum(labels == 0)), 1)
    tp = float(np.sum(predicted & (labels == 1)))
    fp = float(np.sum(predicted & (labels == 0)))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / positives
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "tpr": recall,
        "fpr": fp / negatives,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def _colors(families: list[str]) -> dict[str, str]:
    return dict(zip(families, charts.PALETTE, strict=False))


def _roc(labels: np.ndarray, oof: Mapping[str, np.ndarray], winner: str, threshold: float) -> Raw:
    from sklearn.metrics import roc_auc_score, roc_curve

    colors, series = _colors(list(oof)), []
    for family, scores in oof.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        xs, ys = _thin(fpr, tpr)
        name = f"{family} (AUC {roc_auc_score(labels, scores):.3f})"
        series.append(charts.Series(name, xs.tolist(), ys.tolist(), colors[family]))
    series.append(charts.Series("", [0, 1], [0, 1], "#999", dashed=True))
    at = _rates_at(labels, oof[winner], threshold)
    marker = charts.Marker(f"threshold {threshold:.3f}", at["fpr"], at["recall"])
    svg = charts.line_chart(
        "ROC curve",
        series,
        x_label="false positive rate",
        y_label="true positive rate",
        markers=[marker],
    )
    return figure("ROC curve (out of fold)", svg)


def _pr(labels: np.ndarray, oof: Mapping[str, np.ndarray], winner: str, threshold: float) -> Raw:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    colors, series = _colors(list(oof)), []
    for family, scores in oof.items():
        precision, recall, _ = precision_recall_curve(labels, scores)
        xs, ys = _thin(recall[::-1], precision[::-1])
        name = f"{family} (AP {average_precision_score(labels, scores):.3f})"
        series.append(charts.Series(name, xs.tolist(), ys.tolist(), colors[family]))
    base = float(np.mean(labels))
    series.append(charts.Series("", [0, 1], [base, base], "#999", dashed=True))
    at = _rates_at(labels, oof[winner], threshold)
    marker = charts.Marker(f"threshold {threshold:.3f}", at["recall"], at["precision"])
    svg = charts.line_chart(
        "Precision-recall curve", series, x_label="recall", y_label="precision", markers=[marker]
    )
    return figure("Precision-recall curve (out of fold)", svg)


def _calibration(labels: np.ndarray, scores: np.ndarray, winner: str) -> tuple[Raw, Raw, float]:
    found = calibration(labels, scores)
    bins = found["bins"]
    predicted = [b["predicted"] for b in bins]
    observed = [b["observed"] for b in bins]
    series = [
        charts.Series(winner, predicted, observed, charts.PALETTE[0], points=True),
        charts.Series("", [0, 1], [0, 1], "#999", dashed=True),
    ]
    svg = charts.line_chart(
        "Calibration", series, x_label="mean predicted probability", y_label="observed churn rate"
    )
    rows = [
        (
            f"{b['bin'] / 10:.1f}–{(b['bin'] + 1) / 10:.1f}",
            f"{b['count']:,}",
            f"{p:.3f}",
            f"{o:.3f}",
        )
        for b, p, o in zip(bins, predicted, observed, strict=True)
    ]
    bin_table = table(("bin", "rows", "predicted", "observed"), rows, numeric=(1, 2, 3))
    return figure("Calibration (out of fold, 10 bins)", svg), bin_table, found["ece"]


def _sweep(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Raw:
    rates = [_rates_at(labels, scores, t) for t in SWEEP]
    series = [
        charts.Series(name, SWEEP.tolist(), [r[key] for r in rates], color)
        for name, key, color in (
            ("F1", "f1", charts.PALETTE[0]),
            ("precision", "precision", charts.PALETTE[1]),
            ("recall", "recall", charts.PALETTE[2]),
        )
    ]
    marker = charts.Marker(f"chosen {threshold:.3f}", threshold)
    svg = charts.line_chart(
        "Threshold choice", series, x_label="decision threshold", y_label="", markers=[marker]
    )
    return figure("Threshold choice: F1, precision, recall (out of fold)", svg)


def mean_abs_contributions(predictor: Predictor, matrix: np.ndarray) -> dict[str, float]:
    """Mean |SHAP contribution| of each input feature, in probability units, over the rows of
    a model matrix: the served explainer's exact values, so it means the same for every family
    (a CatBoost model copied into LightGBM text records no split gains)."""
    contributions, _ = predictor.explainer.shap_values(matrix)
    return dict(zip(FEATURE_NAMES, np.abs(contributions).mean(axis=0).tolist(), strict=True))


def _features(importance: Mapping[str, float], rows_explained: int) -> list[Raw | str]:
    rows = []
    for spec in FEATURES:
        if spec.categories is not None:
            values = " | ".join(str(c) for c in spec.categories)
        else:
            values = f"{spec.minimum:g} – {'' if spec.maximum is None else f'{spec.maximum:g}'}"
        rows.append(
            (spec.name, spec.kind, values, spec.description, f"{importance[spec.name]:.4f}")
        )
    svg = charts.horizontal_bars(IMPORTANCE_TITLE, list(importance), list(importance.values()))
    headers = ("feature", "type", "values", "meaning", "mean |contribution|")
    return [
        f"Mean absolute contribution to the churn probability (exact SHAP values, as served with "
        f"explain=true) over {rows_explained:,} hold-out customers.",
        table(headers, rows, numeric=(4,)),
        chart_row([figure(IMPORTANCE_TITLE, svg)]),
    ]


def _metric_rows(oof: dict[str, Any], holdout: dict[str, Any]) -> list[tuple[str, str, str]]:
    low, high = holdout.get("roc_auc_ci95", (float("nan"), float("nan")))
    rows = [
        ("ROC AUC", f"{oof['roc_auc']:.4f}", f"{holdout['roc_auc']:.4f} [{low:.3f}, {high:.3f}]")
    ]
    for key, label in (
        ("pr_auc", "PR AUC"),
        ("f1", "F1 at the threshold"),
        ("precision", "precision"),
        ("recall", "recall"),
        ("brier", "Brier score"),
    ):
        rows.append((label, f"{oof[key]:.4f}", f"{holdout[key]:.4f}"))
    ece = (oof["calibration"]["ece"], holdout["calibration"]["ece"])
    rows.append(("expected calibration error", f"{ece[0]:.4f}", f"{ece[1]:.4f}"))
    return rows


def _candidates(manifest: dict[str, Any]) -> list[Raw | str]:
    selection, rows = manifest["selection"], []
    for family, found in selection["candidates"].items():
        cv, hold = found["cv"], found["holdout_reported_only"]
        low, high = hold["roc_auc_ci95"]
        rows.append(
            (
                family + (" (chosen)" if family == selection["winner"] else ""),
                f"{cv['roc_auc_mean']:.4f} [{cv['roc_auc_min']:.3f}, {cv['roc_auc_max']:.3f}]",
                f"{cv['num_trees']}",
                f"{cv['oof_brier']:.4f}",
                f"{hold['roc_auc']:.4f} [{low:.3f}, {high:.3f}]",
                f"{hold['brier']:.4f}",
            )
        )
    headers = (
        "family",
        "CV ROC AUC mean [min, max]",
        "trees",
        "OOF Brier",
        "hold-out ROC AUC [95 % CI]",
        "hold-out Brier",
    )
    out: list[Raw | str] = [table(headers, rows, numeric=(2, 3, 5)), selection["reason"] + "."]
    if study := manifest["metrics"].get("split_seeds"):
        seeds = study["seeds"]
        out.append(tag("p", f"Whole protocol repeated on {len(seeds)} hold-outs (seeds {seeds}):"))
        study_rows = [
            (family, *(f"{v[k]['mean']:.4f} ± {v[k]['sd']:.4f}" for k in SPLIT_SEED_COLUMNS))
            for family, v in study["families"].items()
        ]
        headers = ("family", "CV ROC AUC", "hold-out ROC AUC", "hold-out Brier")
        out.append(table(headers, study_rows))
    return out


def training_report(
    labels: np.ndarray,
    oof: Mapping[str, np.ndarray],
    manifest: dict[str, Any],
    importance: Mapping[str, float],
    rows_explained: int,
) -> str:
    """The page. ``oof``: out-of-fold probabilities per family (the winner among them);
    ``importance``: mean |contribution| per input feature over ``rows_explained`` rows."""
    labels = np.asarray(labels)
    training, threshold = manifest["training"], manifest["decision_threshold"]
    winner, metrics = training["family"], manifest["metrics"]
    oof_metrics = classification_metrics(labels, oof[winner], threshold, resamples=0)
    calibration_chart, calibration_table, ece = _calibration(labels, oof[winner], winner)
    folds = metrics["cv"]["folds"]
    sections: list[Raw | str] = [
        tag("h1", f"Training report — {manifest['model_version']}"),
        tag(
            "p",
            f"{manifest['created_at']} · data {training['source']} ({training['rows']:,} rows: "
            f"{training['train_rows']:,} training, {training['holdout_rows']:,} hold-out) · "
            f"seed {training['seed']} · {winner}, {training['num_trees']} trees · "
            f"{training.get('seconds', '?')} s",
            "meta",
        ),
        tag("h2", "Metrics"),
        f"Curves and the threshold come from the out-of-fold predictions of {folds}-fold "
        "cross-validation on the training part, where every choice was made; the hold-out is "
        "reported only, with a percentile bootstrap 95 % interval on its ROC AUC.",
        table(
            ("metric", f"out of fold ({len(labels):,} rows)", "hold-out (95 % CI)"),
            _metric_rows(oof_metrics, metrics["holdout"]),
            numeric=(1, 2),
        ),
        tag("h2", "Ranking and decision"),
        chart_row(
            [
                _roc(labels, oof, winner, threshold),
                _pr(labels, oof, winner, threshold),
                _sweep(labels, oof[winner], threshold),
            ]
        ),
        f"Decision threshold {threshold:.3f}: the highest F1 on the out-of-fold predictions.",
        tag("h2", "Calibration"),
        f"Expected calibration error {ece:.4f} (out of fold).",
        chart_row([calibration_chart, calibration_table]),
        tag("h2", "Model families compared"),
        *_candidates(manifest),
        tag("h2", "Input features"),
        *_features(importance, rows_explained),
    ]
    return page(f"Training report — {manifest['model_version']}", sections)


def write_training_report(
    out_dir: str | Path,
    labels: np.ndarray,
    oof: Mapping[str, np.ndarray],
    manifest: dict[str, Any],
    importance: Mapping[str, float],
    rows_explained: int,
) -> Path:
    """Write ``training-report.html`` into ``out_dir``; returns its path."""
    document = training_report(labels, oof, manifest, importance, rows_explained)
    return write(Path(out_dir) / REPORT_FILE, document)
