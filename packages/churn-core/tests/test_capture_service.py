"""serving-api's capture record (the ``service`` format): the JSON lines a request path writes
are the records ``capture_records`` describes, and read back as the rows drift compares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from churn_core import Prediction
from churn_core.capture import capture_lines, capture_records, read_capture_lines
from churn_core.samples import SAMPLE_CUSTOMERS
from churn_core.schema import FEATURE_NAMES

CUSTOMER = SAMPLE_CUSTOMERS[0]


def _prediction(p: float) -> Prediction:
    return Prediction(
        churn_probability=p, churn_prediction=int(p >= 0.5), risk_level="LOW", model_version="v1"
    )


@pytest.mark.parametrize("timestamp", [1_700_000_000.0, 1_700_000_000.5, 1_764_763_354.864730])
def test_lines_are_the_records_as_json(timestamp: float) -> None:
    customers = [CUSTOMER, {**CUSTOMER, "Age": 70, "Surname": "not kept"}]
    predictions = [_prediction(0.25), _prediction(0.875)]

    lines = capture_lines(customers, predictions, timestamp, "req-1")

    assert lines.endswith(b"\n") and lines.count(b"\n") == 2
    records = capture_records(customers, predictions, timestamp, "req-1")
    assert [json.loads(line) for line in lines.splitlines()] == records
    assert records[0]["timestamp"].endswith("+00:00")  # the isoformat of an aware UTC time
    assert list(records[1]["features"]) == list(FEATURE_NAMES)


def test_one_record_is_one_line_that_drift_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(capture_lines([CUSTOMER], [_prediction(0.3)], 1_700_000_000.25, None))

    rows, torn = read_capture_lines(path)

    assert torn == 0
    assert rows == [
        {
            **CUSTOMER,
            "timestamp": "2023-11-14T22:13:20.250000+00:00",
            "request_id": None,
            "model_version": "v1",
            "features": CUSTOMER,
            "churn_probability": 0.3,
            "churn_prediction": 0,
            "risk_level": "LOW",
        }
    ]


def test_customers_and_predictions_must_pair_up() -> None:
    with pytest.raises(ValueError):
        capture_lines([CUSTOMER], [_prediction(0.1), _prediction(0.2)], 1_700_000_000.0, None)
