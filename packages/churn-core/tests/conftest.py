from __future__ import annotations

import os
from pathlib import Path

import pytest

from churn_core.data import generate
from churn_core.schema import FEATURE_NAMES


@pytest.fixture(scope="session")
def customers() -> list[dict]:
    frame = generate(1_000, seed=11)[list(FEATURE_NAMES)]
    return frame.to_dict(orient="records")


def _real_data() -> Path:
    # The Kaggle file is never in the repo: CI has ../shared/data beside the clone.
    default = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "Churn_Modelling.csv"
    return Path(os.environ.get("CHURN_REAL_DATA", default))


@pytest.fixture(scope="session")
def real_data() -> Path:
    path = _real_data()
    if not path.is_file():
        pytest.skip(f"real Churn_Modelling.csv not present at {path} (set CHURN_REAL_DATA)")
    return path
