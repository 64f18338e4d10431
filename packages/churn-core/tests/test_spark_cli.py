"""``churn-core score|drift --engine spark`` on local files: the single process's answers,
exit codes and report, from Parquet and CSV. Run alone: ``uv run pytest -m spark``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn_core.cli import main
from churn_core.data import generate

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def customers(tmp_path_factory) -> tuple[Path, Path]:
    """(a CSV with a non-number cell and an out-of-range age, the same without the first: the
    single process refuses a whole file whose column does not parse)."""
    frame = generate(5_000, seed=21).drop(columns=["Exited"])
    frame.insert(0, "CustomerId", np.arange(len(frame)) + 1000)
    frame.loc[20, "Age"] = 150
    folder = tmp_path_factory.mktemp("cli")
    frame.drop(index=10).to_csv(folder / "parsable.csv", index=False)
    frame["CreditScore"] = frame["CreditScore"].astype(str)
    frame.loc[10, "CreditScore"] = "abc"
    frame.to_csv(folder / "customers.csv", index=False)
    return folder / "customers.csv", folder / "parsable.csv"


def test_score_matches_the_single_process(spark, bundle_dir: Path, customers, tmp_path) -> None:
    single_out, spark_out = tmp_path / "single.parquet", tmp_path / "spark.parquet"
    errors = tmp_path / "errors.jsonl"
    with_text, parsable = customers
    common = ["score", "--model-dir", str(bundle_dir), "--data"]
    # Bad rows: exit 2 on both engines.
    assert main([*common, str(parsable), "--out", str(single_out)]) == 2
    spark_args = ["--out", str(spark_out), "--errors", str(errors), "--engine", "spark"]
    assert main([*common, str(with_text), *spark_args, "--master", "local[2]"]) == 2
    single = pd.read_parquet(single_out)
    scored = pd.read_parquet(spark_out).sort_values("CustomerId").reset_index(drop=True)
    assert len(scored) == len(single) == 4_998
    assert np.array_equal(scored.churn_probability.to_numpy(), single.churn_probability.to_numpy())
    assert scored.risk_level.tolist() == single.risk_level.tolist()
    rejected = pd.concat(pd.read_json(p, lines=True) for p in errors.glob("*.json"))
    fields = {row.CustomerId: [e["field"] for e in row.errors] for row in rejected.itertuples()}
    assert fields == {1010: ["CreditScore"], 1020: ["Age"]}


def test_drift_matches_the_single_process(spark, bundle_dir: Path, tmp_path) -> None:
    current = tmp_path / "current.parquet"
    generate(20_000, seed=4, drift=0.4).to_parquet(current, index=False)
    common = ["drift", "--reference", str(bundle_dir), "--current", str(current)]
    single_json, spark_json = tmp_path / "single.json", tmp_path / "spark.json"
    single_code = main([*common, "--json", str(single_json)])
    spark_code = main([*common, "--json", str(spark_json), "--engine", "spark"])
    assert single_code == spark_code == 1
    single, distributed = (json.loads(p.read_text()) for p in (single_json, spark_json))
    assert distributed["drifted_features"] == single["drifted_features"]
    assert distributed["current"]["rows"] == single["current"]["rows"] == 20_000
