"""Held-out quality: ranking, the decision at the threshold, and calibration."""

from __future__ import annotations

from typing import Any

import numpy as np


def f1_at(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> float:
    predicted = probabilities >= threshold
    tp = float(np.sum(predicted & (labels == 1)))
    denominator = float(np.sum(predicted) + np.sum(labels == 1))
    return 2 * tp / denominator if denominator else 0.0


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Expected calibration error over equal-width bins, and the bins themselves."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        in_bin = which == b
        if not in_bin.any():
            continue
        predicted, observed = float(probabilities[in_bin].mean()), float(labels[in_bin].mean())
        ece += in_bin.mean() * abs(predicted - observed)
        table.append(
            {"bin": b, "count": int(in_bin.sum()), "predicted": predicted, "observed": observed}
        )
    return {"ece": float(ece), "bins": table}


def classification_metrics(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float
) -> dict[str, Any]:
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    labels = np.asarray(labels)
    predicted = (probabilities >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "f1": f1_at(labels, probabilities, threshold),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "brier": float(brier_score_loss(labels, probabilities)),
        "threshold": float(threshold),
        "rows": int(labels.size),
        "calibration": calibration(labels, probabilities),
    }
