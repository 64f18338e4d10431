"""Spark drift on a real local Spark: the single-node report's decisions, exact PSI and
chi-square, and KS within its stated error bound, on drifted and undrifted data.

Run alone: ``uv run pytest -m spark``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn_core import Predictor
from churn_core.capture import PROBABILITY
from churn_core.data import generate
from churn_core.drift import compare, read_reference
from churn_core.schema import FEATURE_NAMES

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROWS = 200_000


def _current(predictor: Predictor, drift: float, seed: int) -> pd.DataFrame:
    frame = generate(ROWS, seed=seed, drift=drift)[list(FEATURE_NAMES)]
    frame[PROBABILITY] = predictor.predict_proba({n: frame[n].to_numpy() for n in FEATURE_NAMES})
    frame.insert(0, "CustomerId", np.arange(ROWS))
    frame.loc[::997, "Age"] = 150  # ~0.1 % invalid rows: counted, not judged
    return frame


@pytest.fixture(scope="module", params=[0.0, 0.3], ids=["undrifted", "drifted"])
def reports(request, spark, bundle_dir: Path, predictor: Predictor) -> tuple[dict, dict]:
    from churn_core.spark.drift import spark_compare

    reference = read_reference(bundle_dir)
    current = _current(predictor, request.param, seed=int(request.param * 10) + 5)
    single = compare(reference, current)
    distributed = spark_compare(reference, spark.createDataFrame(current).repartition(3))
    return single, distributed


def _decisions(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "drift": report["drift"],
        "drifted_features": report["drifted_features"],
        "prediction": report["prediction"]["drifted"],
        "invalid_rows": report["data_quality"]["invalid_rows"],
        "rows": report["current"]["rows"],
    }


def test_same_decisions_as_the_single_node_report(reports) -> None:
    single, distributed = reports
    assert _decisions(distributed) == _decisions(single)
    assert set(distributed) == set(single)  # the same report shape


def test_psi_and_chi_square_are_exact_ks_within_its_bound(reports) -> None:
    single, distributed = reports
    for name, expected in single["features"].items():
        got = distributed["features"][name]
        assert got["psi"] == pytest.approx(expected["psi"], rel=1e-9, abs=1e-12), name
        if expected["test"] == "chi2":
            assert got["statistic"] == pytest.approx(expected["statistic"], rel=1e-9), name
            continue
        bound = got["ks_error_bound"]
        assert got["statistic"] <= expected["statistic"] + 1e-12, name
        assert expected["statistic"] <= got["statistic"] + bound + 1e-12, name
        assert bound < 0.01, name
    got, expected = distributed["prediction"], single["prediction"]
    assert got["psi"] == pytest.approx(expected["psi"], rel=1e-9)
    assert got["mean"]["current"] == pytest.approx(expected["mean"]["current"], rel=1e-12)
    assert got["statistic"] <= expected["statistic"] + 1e-12
    assert expected["statistic"] <= got["statistic"] + got["ks_error_bound"] + 1e-12
