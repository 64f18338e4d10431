"""What the `churn-core` command prints for a person: rich tables on stderr (the [data] extra's
console) and the short drift summary. The JSON outputs stay in the commands themselves."""

from __future__ import annotations

from typing import Any


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def print_comparison(manifest: dict) -> None:
    from rich.table import Table

    table = Table(title="model families (hold-out reported, never used to choose)")
    for name in ("family", "CV AUC mean [min, max]", "trees", "hold-out AUC [95 % CI]", "Brier"):
        table.add_column(name)
    for family, found in manifest["selection"]["candidates"].items():
        cv, hold = found["cv"], found["holdout_reported_only"]
        low, high = hold["roc_auc_ci95"]
        table.add_row(
            family,
            f"{cv['roc_auc_mean']:.4f} [{cv['roc_auc_min']:.4f}, {cv['roc_auc_max']:.4f}]",
            str(cv["num_trees"]),
            f"{hold['roc_auc']:.4f} [{low:.4f}, {high:.4f}]",
            f"{hold['brier']:.4f}",
        )
    stderr_console().print(table)
    study = manifest["metrics"].get("split_seeds")
    if not study:
        return
    seeds = study["seeds"]
    table = Table(title=f"{len(seeds)} hold-out splits (seeds {seeds}): mean ± sd")
    for name in ("family", "CV AUC", "hold-out AUC", "hold-out Brier", "won"):
        table.add_column(name)
    for family, found in study["families"].items():
        table.add_row(
            family,
            *(
                f"{found[k]['mean']:.4f} ± {found[k]['sd']:.4f}"
                for k in ("cv_roc_auc", "holdout_roc_auc", "holdout_brier")
            ),
            f"{study['winners'].count(family)}/{len(seeds)}",
        )
    stderr_console().print(table)


def print_metrics(metrics: dict, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for name in ("roc_auc", "pr_auc", "f1", "precision", "recall", "brier"):
        table.add_column(name)
    table.add_column("ECE")
    table.add_row(
        *(f"{metrics[n]:.4f}" for n in ("roc_auc", "pr_auc", "f1", "precision", "recall", "brier")),
        f"{metrics['calibration']['ece']:.4f}",
    )
    stderr_console().print(table)
    interval = metrics.get("roc_auc_ci95")
    if interval:
        stderr_console().print(
            f"ROC AUC bootstrap 95 % interval [{interval[0]:.4f}, {interval[1]:.4f}]"
        )
    stderr_console().print(f"threshold {metrics['threshold']:.3f} · {metrics['rows']} rows")


def print_drift_summary(report: dict) -> None:
    """A few lines for a person; the full report is ``--json``."""
    print(f"{'feature':<16} {'test':<11} {'p-value':>9} {'PSI':>7}  drifted")
    for name, result in report["features"].items():
        drifted = "YES" if result["drifted"] else "no"
        p_value = f"{result['p_value']:.2g}"
        print(f"{name:<16} {result['test']:<11} {p_value:>9} {result['psi']:>7.3f}  {drifted}")
    if prediction := report["prediction"]:
        print(
            f"{'(prediction)':<16} {prediction['test']:<11} {prediction['p_value']:>9.2g} "
            f"{prediction['psi']:>7.3f}  {'YES' if prediction['drifted'] else 'no'}"
        )
