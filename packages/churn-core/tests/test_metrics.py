import numpy as np
from sklearn.metrics import roc_auc_score

from churn_core.metrics import bootstrap_auc, classification_metrics


def test_bootstrap_auc_is_roc_auc_of_each_resample():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    # Rounded scores: many ties, which count half, as in roc_auc_score.
    scores = np.round(np.clip(0.3 * labels + rng.normal(0.4, 0.2, 300), 0, 1), 2)
    aucs = bootstrap_auc(labels, scores, resamples=5, seed=9)
    order = np.argsort(scores, kind="stable")
    counts = np.random.default_rng(9).multinomial(300, np.full(300, 1 / 300), size=5)
    for auc, count in zip(aucs, counts, strict=True):
        resampled = np.repeat(order, count)
        assert abs(auc - roc_auc_score(labels[resampled], scores[resampled])) < 1e-12


def test_interval_brackets_the_auc_and_narrows_with_more_rows():
    rng = np.random.default_rng(2)
    widths = []
    for rows in (500, 5_000):
        labels = rng.integers(0, 2, rows)
        scores = 1 / (1 + np.exp(-(labels + rng.normal(0, 1, rows))))
        metrics = classification_metrics(labels, scores, 0.25)
        low, high = metrics["roc_auc_ci95"]
        assert low < metrics["roc_auc"] < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2
    assert "roc_auc_ci95" not in classification_metrics(labels, scores, 0.25, resamples=0)
