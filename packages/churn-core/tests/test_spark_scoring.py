"""Spark scoring on a real local Spark (local[2]): the same probabilities as Predictor.predict to
the last bit, and every bad row in the rejected output with every bad field, none lost.

Run alone: ``uv run pytest -m spark``. One SparkSession serves the whole test session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn_core import Predictor
from churn_core.data import generate
from churn_core.schema import FEATURE_NAMES, FEATURES

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROWS = 100_000
INTS = [spec.name for spec in FEATURES if spec.kind == "int"]

# Valid customers on every edge of the schema.
BOUNDARY: list[dict[str, Any]] = [
    {"CreditScore": 300, "Age": 18, "Tenure": 0, "NumOfProducts": 1, "Balance": 0.0},
    {"CreditScore": 900, "Age": 100, "Tenure": 10, "NumOfProducts": 4, "EstimatedSalary": 0.0},
    {"Balance": 1e12, "EstimatedSalary": 5e-324, "HasCrCard": 0, "IsActiveMember": 0},
    {"Geography": "Germany", "Gender": "Male", "HasCrCard": 1, "IsActiveMember": 1},
    {"Geography": "Spain", "Gender": "Female", "Balance": 0.01, "Age": 45},
]
# Bad rows and the fields each must be rejected for (a null in an integer column makes that
# Arrow batch's column float: the per-record validation path).
BAD: list[tuple[dict[str, Any], set[str]]] = [
    ({"CreditScore": 299}, {"CreditScore"}),
    ({"CreditScore": 901, "Age": 17}, {"CreditScore", "Age"}),
    ({"Age": 101}, {"Age"}),
    ({"Tenure": -1}, {"Tenure"}),
    (
        {"Tenure": 11, "NumOfProducts": 0, "Geography": "Italy"},
        {"Tenure", "NumOfProducts", "Geography"},
    ),
    ({"NumOfProducts": 5}, {"NumOfProducts"}),
    ({"HasCrCard": 2}, {"HasCrCard"}),
    ({"IsActiveMember": -1}, {"IsActiveMember"}),
    ({"Geography": None}, {"Geography"}),
    ({"Gender": "male"}, {"Gender"}),
    ({"Balance": -0.01}, {"Balance"}),
    ({"Balance": None}, {"Balance"}),
    ({"EstimatedSalary": -1.0}, {"EstimatedSalary"}),
    ({"Age": None}, {"Age"}),
    ({"Age": None, "Gender": None, "Balance": -5.0}, {"Age", "Gender", "Balance"}),
]


def _customers(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, set[str]]]:
    """(all rows with CustomerId, the valid rows alone, {bad CustomerId: its bad fields})."""
    good = generate(ROWS, seed=seed)[list(FEATURE_NAMES)]
    template = good.iloc[0].to_dict()
    good = pd.concat([good, pd.DataFrame([{**template, **b} for b in BOUNDARY])])
    good = good.astype({name: "int64" for name in INTS}).reset_index(drop=True)
    good.insert(0, "CustomerId", np.arange(len(good), dtype=np.int64) * 2)
    bad = pd.DataFrame([{**template, **row} for row, _ in BAD]).astype({n: "Int64" for n in INTS})
    bad.insert(0, "CustomerId", np.arange(len(BAD), dtype=np.int64) * 2 + 1)
    rows = pd.concat([good.astype({n: "Int64" for n in INTS}), bad], ignore_index=True)
    rows = rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # bad rows scattered
    expected_bad = {int(i): fields for i, (_, fields) in zip(bad.CustomerId, BAD, strict=True)}
    return rows, good, expected_bad


@pytest.fixture(scope="module")
def scored(spark, bundle_dir: Path, tmp_path_factory) -> dict[str, Any]:
    from churn_core.spark import score_frame

    rows, good, expected_bad = _customers()
    path = tmp_path_factory.mktemp("spark-in") / "customers.parquet"
    rows.to_parquet(path, index=False)
    frame = spark.read.parquet(str(path)).repartition(4)
    out = score_frame(frame, str(bundle_dir))
    result = {
        "rows": frame.count(),
        "scored": out.scored.toPandas().sort_values("CustomerId").reset_index(drop=True),
        "counts": out.counts.get,  # filled by the action on `scored` just above
        "rejected": out.rejected.toPandas(),
    }
    return {**result, "good": good, "expected_bad": expected_bad, "id_column": out.id_column}


def test_probabilities_equal_predictor_to_the_last_bit(scored, predictor: Predictor) -> None:
    good, got = scored["good"], scored["scored"]
    assert got.CustomerId.tolist() == good.CustomerId.tolist()
    expected = predictor.predict(good[list(FEATURE_NAMES)])
    probabilities = np.array([p.churn_probability for p in expected])
    assert len(got) == ROWS + len(BOUNDARY)
    # Bit for bit: the float64 patterns, not a tolerance.
    assert np.array_equal(
        got.churn_probability.to_numpy().view(np.uint64), probabilities.view(np.uint64)
    )
    assert got.churn_prediction.tolist() == [p.churn_prediction for p in expected]
    assert got.risk_level.tolist() == [p.risk_level for p in expected]
    assert set(got.model_version) == {predictor.model_version}
    # Other columns pass through unchanged.
    assert got[list(FEATURE_NAMES)].astype(object).equals(good[list(FEATURE_NAMES)].astype(object))


def test_rejected_output_holds_exactly_the_bad_rows(scored) -> None:
    rejected, expected = scored["rejected"], scored["expected_bad"]
    assert scored["id_column"] == "CustomerId"
    got = {int(row.CustomerId): {e["field"] for e in row.errors} for row in rejected.itertuples()}
    assert got == expected
    assert scored["rows"] == len(scored["scored"]) + len(rejected)
    # What the job reports, counted while `scored` was computed.
    assert scored["counts"] == {"rows": scored["rows"], "rejected": len(expected)}


def test_a_refused_bundle_stops_the_job_on_the_driver(spark, bundle_dir, signing_keys) -> None:
    from churn_core.signing import SignatureError
    from churn_core.spark import score_frame

    frame = spark.createDataFrame(generate(10, seed=1)[list(FEATURE_NAMES)])
    _, trusted_public = signing_keys["trusted"]
    with pytest.raises(SignatureError):  # the quick bundle is unsigned
        score_frame(frame, str(bundle_dir), trusted_keys=[str(trusted_public)])


def test_rows_without_an_identifier_get_the_same_row_id_in_both_outputs(
    spark, bundle_dir: Path, tmp_path: Path
) -> None:
    """The generated row_id: the scored and rejected outputs come from two plans over the same
    files, and every row is in exactly one of them under one id."""
    from churn_core.spark import score_frame

    rows = generate(3_000, seed=5)[list(FEATURE_NAMES)]
    rows.loc[[7, 1_500, 2_999], "Age"] = 150  # bad rows, spread over the partitions
    path = tmp_path / "no-ids.parquet"
    rows.to_parquet(path, index=False, row_group_size=1_000)
    out = score_frame(spark.read.parquet(str(path)).repartition(3), str(bundle_dir))
    assert out.id_column == "row_id"
    scored = out.scored.select("row_id", "Age").toPandas()
    rejected = out.rejected.toPandas()
    assert out.counts.get == {"rows": 3_000, "rejected": 3}
    assert len(rejected) == 3 and not set(rejected.row_id) & set(scored.row_id)
    assert len(set(scored.row_id) | set(rejected.row_id)) == 3_000
    assert (scored.Age != 150).all()
