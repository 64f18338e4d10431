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


def bootstrap_auc(
    labels: np.ndarray, probabilities: np.ndarray, resamples: int = 2_000, seed: int = 0
) -> np.ndarray:
    """ROC AUC of ``resamples`` bootstrap resamples of the rows (with replacement).

    A resample is a vector of row counts, so every AUC is a weighted Mann-Whitney statistic over
    the rows sorted once: positives' weight times the negative weight below them, ties counting
    half — the same number roc_auc_score gives for the resampled rows, without re-sorting.
    """
    labels = np.asarray(labels)
    order = np.argsort(probabilities, kind="stable")
    scores, positive = np.asarray(probabilities)[order], labels[order] == 1
    starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
    counts = np.random.default_rng(seed).multinomial(
        scores.size, np.full(scores.size, 1 / scores.size), size=resamples
    )
    pos = np.add.reduceat(counts * positive, starts, axis=1).astype(np.float64)
    neg = np.add.reduceat(counts * ~positive, starts, axis=1).astype(np.float64)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + neg / 2)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))
    return auc[np.isfinite(auc)]  # a resample with one class only has no AUC


def classification_metrics(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, resamples: int = 2_000
) -> dict[str, Any]:
    """Hold-out metrics; ``resamples`` > 0 adds a percentile bootstrap 95 % interval on ROC AUC."""
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    labels = np.asarray(labels)
    predicted = (probabilities >= threshold).astype(int)
    out: dict[str, Any] = {
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
    if resamples:
        aucs = bootstrap_auc(labels, probabilities, resamples)
        out["roc_auc_ci95"] = [float(np.quantile(aucs, 0.025)), float(np.quantile(aucs, 0.975))]
        out["roc_auc_bootstrap_se"] = float(aucs.std(ddof=1))
        out["bootstrap_resamples"] = int(aucs.size)
    return out
