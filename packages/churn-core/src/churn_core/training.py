"""Training: model families compared by cross-validation, threshold from out-of-fold
predictions, metrics with their uncertainty, bundle.

Every choice (model family, hyper-parameters, number of trees, decision threshold) is made by
5-fold cross-validation inside the training part; the 20 % hold-out is only used to report
metrics, measured through the Predictor loaded from the written bundle — the path that is served.
``split_seeds`` repeats the whole protocol over more hold-outs, because one 2,000-row hold-out's
AUC moves by about 0.01 with the split alone.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

# At import, not in the function: a missing [train] extra is then reported before any work.
from sklearn.model_selection import StratifiedKFold, train_test_split

from churn_core.bundle import BACKGROUND_FILE, MODEL_FILE, REFERENCE_FILE, write_manifest
from churn_core.candidates import FAMILIES, CrossValidation, Progress, cross_validate, fit
from churn_core.data import columns_of, generate, load, validate_frame
from churn_core.features import MODEL_FEATURE_NAMES, build_matrix
from churn_core.metrics import classification_metrics, f1_at
from churn_core.schema import FEATURE_NAMES, LABEL

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_ROWS = 20_000
BACKGROUND_ROWS = 100
REFERENCE_ROWS = 5_000
REPORT_EXPLAINED_ROWS = 500  # hold-out customers explained for the report's feature chart
# The default families: both, compared on the same folds. Quick runs (tests) fit LightGBM only.
DEFAULT_FAMILIES = FAMILIES
QUICK_FAMILIES = ("lightgbm",)
_VERSION_TAG = {"lightgbm": "lgbm", "catboost": "catboost"}


def _as_frame(data: pd.DataFrame | str | Path | None, rows: int, seed: int) -> pd.DataFrame:
    if data is None:
        return validate_frame(generate(rows, seed=seed), label=True, source="generated")
    if isinstance(data, (str, Path)):
        return load(data, label=True)
    return validate_frame(data, label=True)


def best_f1_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    candidates = np.unique(np.round(probabilities, 3))
    scores = [f1_at(labels, probabilities, t) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def _stratified_sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    rows = min(rows, len(frame))
    share = rows / len(frame)
    parts = [
        group.sample(n=max(1, round(len(group) * share)), random_state=seed)
        for _, group in frame.groupby(LABEL)
    ]
    import pandas as pd

    return pd.concat(parts).sample(frac=1.0, random_state=seed)


def _versions(families: Sequence[str]) -> dict[str, str]:
    names = ("churn-core", "lightgbm", "numpy", "pandas", "scikit-learn", "pydantic")
    names += tuple(f for f in families if f not in names)
    return {"python": platform.python_version(), **{n: metadata.version(n) for n in names}}


@dataclass
class Protocol:
    """One run of the protocol on one hold-out split: every family's CV choice and final model."""

    seed: int
    train_part: pd.DataFrame
    holdout: pd.DataFrame
    x_train: np.ndarray
    y_train: np.ndarray
    x_hold: np.ndarray
    y_hold: np.ndarray
    cv: dict[str, CrossValidation]
    models: dict[str, Any]
    winner: str

    def threshold(self, family: str) -> float:
        return best_f1_threshold(self.y_train, self.cv[family].oof)

    def holdout_probabilities(self, family: str) -> np.ndarray:
        """Hold-out probabilities of ``family``'s model as LightGBM serves it."""
        import lightgbm as lgb

        return lgb.Booster(model_str=self.models[family].text).predict(self.x_hold)


def run_protocol(
    frame: pd.DataFrame,
    seed: int,
    families: Sequence[str],
    quick: bool = False,
    progress: Progress = lambda message: None,
) -> Protocol:
    """Split, choose each family by CV on the training part, refit each, pick the best CV AUC."""
    train_part, holdout = train_test_split(
        frame, test_size=0.2, stratify=frame[LABEL], random_state=seed
    )
    x_train, y_train = build_matrix(columns_of(train_part)), train_part[LABEL].to_numpy()
    x_hold, y_hold = build_matrix(columns_of(holdout)), holdout[LABEL].to_numpy()
    folds = StratifiedKFold(3 if quick else 5, shuffle=True, random_state=seed)
    splits = list(folds.split(x_train, y_train))
    cv = {
        family: cross_validate(family, x_train, y_train, splits, seed, quick, progress)
        for family in families
    }
    winner = max(families, key=lambda family: float(np.mean(cv[family].fold_auc)))
    models = {family: fit(cv[family], x_train, y_train, seed) for family in families}
    return Protocol(seed, train_part, holdout, x_train, y_train, x_hold, y_hold, cv, models, winner)


def _selection(run: Protocol) -> dict[str, Any]:
    """What was compared, on which evidence, and why the winner won (for the manifest)."""
    candidates = {}
    for family, cv in run.cv.items():
        threshold = run.threshold(family)
        holdout = classification_metrics(run.y_hold, run.holdout_probabilities(family), threshold)
        candidates[family] = {
            "cv": {
                **cv.summary(),
                "oof_brier": classification_metrics(run.y_train, cv.oof, threshold, resamples=0)[
                    "brier"
                ],
            },
            "holdout_reported_only": {
                k: holdout[k] for k in ("roc_auc", "roc_auc_ci95", "brier", "pr_auc")
            },
        }
    ranked = sorted(run.cv, key=lambda f: -candidates[f]["cv"]["roc_auc_mean"])
    best = candidates[ranked[0]]["cv"]["roc_auc_mean"]
    if len(ranked) == 1:
        reason = f"{ranked[0]} was the only family trained (CV ROC AUC {best:.4f})"
    else:
        runner_up = candidates[ranked[1]]["cv"]["roc_auc_mean"]
        reason = (
            f"{ranked[0]} has the highest mean {len(run.cv[ranked[0]].fold_auc)}-fold CV ROC AUC "
            f"on the training part: {best:.4f} against {ranked[1]} {runner_up:.4f} "
            f"({best - runner_up:+.4f}); the hold-out played no part in the choice"
        )
    return {
        "criterion": "highest mean cross-validated ROC AUC on the training part",
        "winner": run.winner,
        "reason": reason,
        "candidates": candidates,
    }


def split_seed_study(
    frame: pd.DataFrame,
    first: Protocol,
    seeds: int,
    families: Sequence[str],
    quick: bool,
    progress: Progress,
) -> dict[str, Any]:
    """Repeat the whole protocol on ``seeds`` hold-outs (``first`` is the first) per family."""
    runs = [first]
    for seed in range(first.seed + 1, first.seed + seeds):
        progress(f"split seed {seed} ({len(runs) + 1}/{seeds})")
        runs.append(run_protocol(frame, seed, families, quick))
    per_family: dict[str, Any] = {}
    for family in families:
        rows = []
        for run in runs:
            probabilities = run.holdout_probabilities(family)
            metrics = classification_metrics(
                run.y_hold, probabilities, run.threshold(family), resamples=0
            )
            cv_auc = float(np.mean(run.cv[family].fold_auc))
            rows.append((cv_auc, metrics["roc_auc"], metrics["brier"]))
        values = np.array(rows)
        per_family[family] = {
            name: {
                "mean": float(values[:, i].mean()),
                "sd": float(values[:, i].std(ddof=1)) if len(runs) > 1 else 0.0,
                "values": values[:, i].tolist(),
            }
            for i, name in enumerate(("cv_roc_auc", "holdout_roc_auc", "holdout_brier"))
        }
    return {
        "seeds": [run.seed for run in runs],
        "winners": [run.winner for run in runs],
        "families": per_family,
    }


def train(
    out_dir: str | Path = "artifacts/model",
    data: pd.DataFrame | str | Path | None = None,
    seed: int = 42,
    rows: int = DEFAULT_ROWS,
    quick: bool = False,
    families: Sequence[str] | None = None,
    split_seeds: int = 1,
    progress: Progress = lambda message: None,
    report_dir: str | Path | None = None,
) -> Path:
    """Train, write a bundle to ``out_dir`` and return its path. ``data=None`` → synthetic.

    ``families`` defaults to every family, or LightGBM alone when ``quick``; ``split_seeds`` > 1
    adds a mean ± sd over that many hold-outs (seeds ``seed``, ``seed + 1``, …) to the metrics.
    ``report_dir`` also writes the training report page there (``training_report.py``).
    """
    from churn_core.predictor import Predictor

    started = time.perf_counter()
    families = tuple(families or (QUICK_FAMILIES if quick else DEFAULT_FAMILIES))
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown model family {sorted(unknown)} (choose from {FAMILIES})")
    frame = _as_frame(data, rows, seed)
    source = (
        str(data) if isinstance(data, (str, Path)) else "synthetic" if data is None else "frame"
    )
    progress(f"data: {len(frame)} rows from {source}, churn rate {frame[LABEL].mean():.3f}")
    run = run_protocol(frame, seed, families, quick, progress)
    chosen, model = run.cv[run.winner], run.models[run.winner]
    threshold = run.threshold(run.winner)
    progress(
        f"chosen {run.winner} {chosen.params}, {chosen.rounds} trees, threshold {threshold:.3f}"
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():
        if stale.is_file():
            stale.unlink()
    (out / MODEL_FILE).write_text(model.text, encoding="utf-8")
    background = _stratified_sample(run.train_part, BACKGROUND_ROWS, seed)[list(FEATURE_NAMES)]
    (out / BACKGROUND_FILE).write_text(
        json.dumps(background.to_dict(orient="records")), encoding="utf-8"
    )
    reference = _stratified_sample(run.train_part, REFERENCE_ROWS, seed).copy()
    reference["churn_probability"] = model.native_predict(build_matrix(columns_of(reference)))
    reference.to_csv(out / REFERENCE_FILE, index=False)

    created = datetime.now(UTC)
    manifest: dict[str, Any] = {
        "model_version": f"churn-{_VERSION_TAG[run.winner]}-{created:%Y%m%d%H%M%S}-s{seed}",
        "created_at": created.isoformat(),
        "decision_threshold": threshold,
        "model_features": list(MODEL_FEATURE_NAMES),
        "library_versions": _versions(families),
        "training": {
            "source": source,
            "rows": len(frame),
            "train_rows": len(run.train_part),
            "holdout_rows": len(run.holdout),
            "seed": seed,
            "family": run.winner,
            "params": chosen.params,
            "num_trees": chosen.rounds,
        },
        "selection": _selection(run),
    }
    write_manifest(out, manifest)
    served = Predictor.from_bundle(out)
    served_holdout = served.predict_proba(columns_of(run.holdout))
    summary = chosen.summary()
    manifest["metrics"] = {
        "holdout": classification_metrics(run.y_hold, served_holdout, threshold),
        "cv": {
            **{k: summary[k] for k in ("folds", "roc_auc_mean", "roc_auc_min", "roc_auc_max")},
            "oof": classification_metrics(run.y_train, chosen.oof, threshold, resamples=0),
        },
        # For CatBoost this is the exactness of the conversion on the hold-out rows.
        "served_vs_trained_max_abs_diff": float(
            np.max(np.abs(served_holdout - model.native_predict(run.x_hold)))
        ),
    }
    manifest["training"]["seconds"] = round(time.perf_counter() - started, 2)
    if split_seeds > 1:
        started = time.perf_counter()
        study = split_seed_study(frame, run, split_seeds, families, quick, progress)
        manifest["metrics"]["split_seeds"] = {
            **study,
            "seconds": round(time.perf_counter() - started, 2),
        }
    write_manifest(out, manifest)
    if report_dir is not None:
        from churn_core.training_report import mean_abs_contributions, write_training_report

        oof = {family: run.cv[family].oof for family in families}
        explained = run.x_hold[:REPORT_EXPLAINED_ROWS]
        importance = mean_abs_contributions(served, explained)
        page = write_training_report(
            report_dir, run.y_train, oof, manifest, importance, len(explained)
        )
        progress(f"training report: {page}")
    return out
