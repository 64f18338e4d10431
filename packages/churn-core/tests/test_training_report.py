"""`churn-core train --report DIR`: the page's numbers are training's own (out-of-fold curves,
hold-out interval, the family comparison, the threshold), every input feature is shown, nothing
is fetched — checked on the markup and in headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from churn_core.cli import main
from churn_core.schema import FEATURE_NAMES
from churn_core.training_report import REPORT_FILE, mean_abs_contributions

FAMILIES = ("lightgbm", "catboost")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """Both families compared on 3,000 generated rows, with the report, through the CLI."""
    root = tmp_path_factory.mktemp("training-report")
    out, report = root / "model", root / "report"
    options = ["--quick", "--rows", "3000", "--families", ",".join(FAMILIES)]
    code = main(["train", *options, "--out", str(out), "--report", str(report)])
    manifest = json.loads((out / "manifest.json").read_text())
    return {"code": code, "manifest": manifest, "page": report / REPORT_FILE, "bundle": out}


def _cells(document: str) -> list[list[str]]:
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", document)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in rows]


def test_the_report_is_one_page_in_its_own_directory(trained: dict) -> None:
    assert trained["code"] == 0
    assert [p.name for p in trained["page"].parent.iterdir()] == [REPORT_FILE]
    assert REPORT_FILE not in {p.name for p in trained["bundle"].iterdir()}


def test_the_numbers_are_trainings_own(trained: dict) -> None:
    manifest, document = trained["manifest"], trained["page"].read_text()
    holdout, oof = manifest["metrics"]["holdout"], manifest["metrics"]["cv"]["oof"]
    rows = {row[0]: row for row in _cells(document) if row}
    low, high = holdout["roc_auc_ci95"]
    assert rows["ROC AUC"][1:] == [
        f"{oof['roc_auc']:.4f}",
        f"{holdout['roc_auc']:.4f} [{low:.3f}, {high:.3f}]",
    ]
    assert rows["Brier score"][1:] == [f"{oof['brier']:.4f}", f"{holdout['brier']:.4f}"]
    threshold = manifest["decision_threshold"]
    assert f"Decision threshold {threshold:.3f}: the highest F1" in document
    assert f"chosen {threshold:.3f}" in document  # the rule on the threshold sweep
    winner = manifest["training"]["family"]
    # The ROC legend's AUC is the out-of-fold AUC the manifest records for the winner.
    assert f"{winner} (AUC {oof['roc_auc']:.3f})" in document
    for family, found in manifest["selection"]["candidates"].items():
        name = family + (" (chosen)" if family == winner else "")
        assert rows[name][1].startswith(f"{found['cv']['roc_auc_mean']:.4f} [")
    assert manifest["selection"]["reason"] in document


def test_every_chart_is_inline_and_nothing_is_fetched(trained: dict) -> None:
    document = trained["page"].read_text()
    titles = re.findall(r"<svg[^>]*><title>(.*?)</title>", document)
    expected = ["ROC curve", "Precision-recall curve", "Threshold choice", "Calibration"]
    assert titles == [*expected, "Mean |contribution| to the probability"]
    assert "<script" not in document
    assert not re.search(r"<[^>]*\b(src|href)=", document)
    assert set(re.findall(r"https?://[^\"' ]+", document)) == {"http://www.w3.org/2000/svg"}


def test_every_input_feature_with_its_mean_contribution(trained: dict) -> None:
    from churn_core import Predictor
    from churn_core.data import columns_of, generate
    from churn_core.features import build_matrix

    predictor = Predictor.from_bundle(trained["bundle"])
    customers = generate(200, seed=3)[list(FEATURE_NAMES)]
    importance = mean_abs_contributions(predictor, build_matrix(columns_of(customers)))
    served = predictor.predict(customers, explain=True)  # what explain=true answers
    for name in FEATURE_NAMES:
        by_hand = np.mean([abs(p.feature_contributions[name]) for p in served])
        assert importance[name] == pytest.approx(by_hand, abs=1e-12)
    assert importance["Age"] > importance["Tenure"]  # age drives churn in the generator
    rows = {row[0]: row for row in _cells(trained["page"].read_text()) if row}
    for name in FEATURE_NAMES:
        assert re.fullmatch(r"0\.\d{4}", rows[name][-1]), rows[name]
    assert "over 500 hold-out customers" in trained["page"].read_text()


def test_train_without_report_writes_no_page(tmp_path: Path) -> None:
    from churn_core.training import train

    out = train(tmp_path / "model", quick=True, rows=1_500)
    assert not list(tmp_path.rglob("*.html"))
    assert np.isfinite(json.loads((out / "manifest.json").read_text())["decision_threshold"])


def test_the_page_in_chromium(trained: dict, tmp_path: Path) -> None:
    from churn_testing.browser import open_page

    manifest = trained["manifest"]
    seen = open_page(trained["page"], tmp_path / "training-report.png")
    assert seen.console_errors == []
    assert seen.external_requests == []
    assert seen.title == f"Training report — {manifest['model_version']}"
    lines = seen.text.splitlines()
    for name in FEATURE_NAMES:
        assert any(line.startswith(f"{name}\t") for line in lines), name
    for caption in ("ROC curve (out of fold)", "Calibration (out of fold, 10 bins)"):
        assert caption in lines
    assert seen.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
