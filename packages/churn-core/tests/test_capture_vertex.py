"""Vertex AI request-response logs, as BigQuery exports them (newline-delimited JSON), read by
`churn-core drift --current`. The samples follow the documented table schema: endpoint STRING,
deployed_model_id STRING, logging_time TIMESTAMP, request_id NUMERIC, request_payload and
response_payload REPEATED STRING, each element a JSON text (BigQuery's JSON export writes
NUMERIC as a string and TIMESTAMP as ``YYYY-MM-DD HH:MM:SS[.ffffff] UTC``)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from churn_core import drift
from churn_core.capture import record_format, record_rows
from churn_core.cli import main
from churn_core.data import generate
from churn_core.schema import FEATURE_NAMES

ENDPOINT = "projects/123456789012/locations/europe-west4/endpoints/4567"


def _customers(n: int, seed: int, shift: float = 0.0) -> list[dict]:
    frame = generate(n, seed=seed, drift=shift)[list(FEATURE_NAMES)]
    return frame.to_dict(orient="records")


def _log_row(
    customers: list[dict],
    i: int,
    per_instance: bool = True,
    probabilities: list[float] | None = None,
) -> dict:
    """One BigQuery row: one element per instance, or one element holding the whole body."""
    probabilities = probabilities or [0.1 + 0.01 * k for k in range(len(customers))]
    predictions = [{"churn_probability": p, "risk_level": "LOW"} for p in probabilities]
    if per_instance:
        request = [json.dumps(c) for c in customers]
        response = [json.dumps(p) for p in predictions]
    else:
        request = [json.dumps({"instances": customers})]
        response = [json.dumps({"predictions": predictions, "deployedModelId": "1004"})]
    return {
        "endpoint": ENDPOINT,
        "deployed_model_id": "1004",
        "logging_time": f"2026-11-20 10:{i % 60:02d}:00.123456 UTC",
        "request_id": str(8_000_000_000 + i),
        "request_payload": request,
        "response_payload": response,
    }


def test_a_log_row_is_detected_and_read_with_probabilities() -> None:
    customers = _customers(3, seed=1)
    for per_instance in (True, False):
        record = _log_row(customers, 5, per_instance)
        assert record_format(record) == "vertex"
        rows = record_rows(record)
        assert [r["Age"] for r in rows] == [c["Age"] for c in customers]
        assert [r["churn_probability"] for r in rows] == pytest.approx([0.1, 0.11, 0.12])
        assert {r["timestamp"] for r in rows} == {"2026-11-20T10:05:00.123456+00:00"}


def test_a_row_without_response_keeps_the_features() -> None:
    record = {**_log_row(_customers(2, seed=2), 1), "response_payload": []}
    rows = record_rows(record)
    assert len(rows) == 2 and "churn_probability" not in rows[0]


def _export(directory: Path, customers: list[dict], predictor) -> None:
    """Two shards as `bq extract --destination_format NEWLINE_DELIMITED_JSON` names them, one
    gzip-compressed; 10 customers per logged request, answered by the real model."""
    directory.mkdir()
    lines = []
    for i in range(0, len(customers), 10):
        batch = customers[i : i + 10]
        answers = [p.churn_probability for p in predictor.predict(batch)]
        lines.append(json.dumps(_log_row(batch, i // 10, i % 20 == 0, answers)))
    half = len(lines) // 2
    (directory / "requests-000000000000.json").write_text("\n".join(lines[:half]) + "\n")
    with gzip.open(directory / "requests-000000000001.json.gz", "wt") as shard:
        shard.write("\n".join(lines[half:]) + "\n")


def test_drift_reads_an_exported_directory_of_shards(
    bundle_dir: Path, predictor, tmp_path: Path
) -> None:
    same, shifted = tmp_path / "same", tmp_path / "shifted"
    _export(same, _customers(2_000, seed=8), predictor)
    _export(shifted, _customers(2_000, seed=9, shift=0.4), predictor)
    frame = drift.read_current(same)
    assert len(frame) == 2_000
    assert frame["churn_probability"].notna().all()
    report = tmp_path / "report.json"
    assert main(["drift", "--reference", str(bundle_dir), "--current", str(same)]) == 0
    code = main(
        ["drift", "--reference", str(bundle_dir), "--current", str(shifted), "--json", str(report)]
    )
    assert code == 1
    assert json.loads(report.read_text())["drift"] is True
