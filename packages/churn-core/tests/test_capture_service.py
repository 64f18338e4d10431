"""serving-api's capture record (the ``service`` format): the JSON lines its writer formats are
the records ``capture_records`` builds, and read back as the rows drift compares."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from churn_core import Prediction
from churn_core.capture import (
    capture_lines,
    capture_record,
    capture_records,
    capture_time,
    read_capture_lines,
)
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
    when = capture_time(timestamp)

    records = capture_records(customers, predictions, when, "req-1")
    lines = capture_lines(records)

    assert lines.endswith(b"\n") and lines.count(b"\n") == 2
    # orjson writes the aware time as isoformat does: the same text, never formatted in Python
    expected = [{**record, "timestamp": when.isoformat()} for record in records]
    assert [json.loads(line) for line in lines.splitlines()] == expected
    assert expected[0]["timestamp"].endswith("+00:00")
    assert list(records[1]["features"]) == list(FEATURE_NAMES)  # the extra key is not kept


def test_features_are_the_ten_whatever_the_mapping_holds() -> None:
    when = capture_time()
    reordered = dict(reversed(list(CUSTOMER.items())))
    identified = {"CustomerId": 15634602, **CUSTOMER}
    missing_one_plus_extra = {**{k: v for k, v in CUSTOMER.items() if k != "Age"}, "x": 1}

    assert capture_record(reordered, _prediction(0.1), when, None)["features"] == CUSTOMER
    assert capture_record(identified, _prediction(0.1), when, None)["features"] == CUSTOMER
    with pytest.raises(KeyError):  # only predicted (valid) customers are captured
        capture_record(missing_one_plus_extra, _prediction(0.1), when, None)


def test_one_record_is_one_line_that_drift_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    when = capture_time(1_700_000_000.25)
    path.write_bytes(capture_lines([capture_record(CUSTOMER, _prediction(0.3), when, None)]))

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
        capture_records([CUSTOMER], [_prediction(0.1), _prediction(0.2)], capture_time(), None)


def test_a_record_that_does_not_format_raises() -> None:
    # The strict schema accepts any non-negative amount; orjson writes integers up to 64 bits.
    huge = capture_record({**CUSTOMER, "Balance": 10**30}, _prediction(0.1), capture_time(), None)
    with pytest.raises(orjson.JSONEncodeError):
        capture_lines([huge])
