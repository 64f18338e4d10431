import json
import time

import pytest

from churn_core.cli import main


@pytest.mark.slow
def test_real_data_quality_bar(real_data, tmp_path):
    """The foundation issue's bar on the real Kaggle data: hold-out ROC AUC >= 0.865, Brier <= 0.10,
    every choice (the model family too) made by cross-validation inside the training part."""
    started = time.perf_counter()
    assert main(["train", "--data", str(real_data), "--out", str(tmp_path / "m")]) == 0
    seconds = time.perf_counter() - started
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    holdout = manifest["metrics"]["holdout"]
    print(f"hold-out AUC {holdout['roc_auc']:.4f} Brier {holdout['brier']:.4f} in {seconds:.1f} s")
    assert holdout["roc_auc"] >= 0.865
    assert holdout["brier"] <= 0.10
    assert manifest["metrics"]["cv"]["folds"] == 5
    assert manifest["training"]["holdout_rows"] == 2_000
    assert set(manifest["selection"]["candidates"]) == {"lightgbm", "catboost"}
    low, high = holdout["roc_auc_ci95"]
    assert low < holdout["roc_auc"] < high


def test_train_evaluate_score_round_trip_on_the_command_line(tmp_path):
    data, scored, errors = tmp_path / "d.csv", tmp_path / "s.jsonl", tmp_path / "e.jsonl"
    assert main(["generate", "--rows", "3000", "--out", str(data), "--seed", "4"]) == 0
    model = tmp_path / "model"
    assert main(["train", "--data", str(data), "--out", str(model), "--quick"]) == 0
    assert main(["evaluate", "--model-dir", str(model), "--data", str(data)]) == 0
    assert (
        main(["score", "--model-dir", str(model), "--data", str(data), "--out", str(scored)]) == 0
    )
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    assert len(rows) == 3000 and {"churn_probability", "risk_level"} <= set(rows[0])
    text = data.read_text().splitlines()
    text[5] = text[5].replace("France", "Atlantis").replace("Spain", "Atlantis")
    text[5] = text[5].replace("Germany", "Atlantis")
    data.write_text("\n".join(text) + "\n")
    args = ["score", "--model-dir", str(model), "--data", str(data), "--out", str(scored)]
    assert main([*args, "--errors", str(errors)]) == 2
    failure = json.loads(errors.read_text())
    assert failure["row"] == 5 and failure["field"] == "Geography"
    assert len(scored.read_text().splitlines()) == 2999


def test_missing_bundle_exits_2(tmp_path, capsys):
    assert main(["evaluate", "--model-dir", str(tmp_path / "nope"), "--data", "x.csv"]) == 2
    assert "not found" in capsys.readouterr().err
