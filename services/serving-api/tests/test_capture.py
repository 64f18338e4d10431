import json
import threading
from pathlib import Path

from churn_core import Prediction
from churn_core.capture import Row, capture_records, capture_time
from serving_api.capture import CaptureWriter
from serving_api.metrics import Metrics

from .conftest import CUSTOMER


def _prediction(p: float = 0.25) -> Prediction:
    return Prediction(
        churn_probability=p, churn_prediction=0, risk_level="LOW", model_version="v-test"
    )


def _batch(
    timestamp: float, request_id: str, customers: list[dict], predictions: list[Prediction]
) -> list[Row]:
    return capture_records(customers, predictions, capture_time(timestamp), request_id)


def _records(directory: Path) -> list[dict]:
    lines = []
    for path in sorted(directory.glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


def _sample(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    return 0.0 if value is None else value


def test_every_accepted_record_is_on_disk_after_close(tmp_path: Path) -> None:
    metrics = Metrics()
    writer = CaptureWriter(tmp_path, metrics)
    writer.start()
    for i in range(500):
        customer = {**CUSTOMER, "Age": 18 + i % 80, "Surname": "ignored"}
        assert writer.submit(_batch(1_700_000_000.0 + i, f"req-{i}", [customer], [_prediction()]))
    writer.submit(_batch(1_700_000_999.0, "batch", [CUSTOMER] * 3, [_prediction(0.9)] * 3))
    writer.close()

    records = _records(tmp_path)
    assert len(records) == 503
    first = records[0]
    assert first["request_id"] == "req-0"
    assert first["timestamp"] == "2023-11-14T22:13:20+00:00"
    assert first["model_version"] == "v-test"
    assert first["features"] == {**CUSTOMER, "Age": 18}  # identifiers and extras are not kept
    assert (first["churn_probability"], first["churn_prediction"], first["risk_level"]) == (
        0.25,
        0,
        "LOW",
    )
    assert [r["request_id"] for r in records[-3:]] == ["batch"] * 3
    assert writer.written == 503 and writer.dropped == 0
    assert _sample(metrics, "serving_capture_records_total") == 503
    assert _sample(metrics, "serving_capture_queue_depth") == 0


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    metrics = Metrics()
    writer = CaptureWriter(tmp_path, metrics, max_pending=10)
    # Not started: nothing drains the queue.
    assert writer.submit(_batch(0.0, "a", [CUSTOMER] * 8, [_prediction()] * 8))
    assert not writer.submit(_batch(0.0, "b", [CUSTOMER] * 3, [_prediction()] * 3))
    assert writer.dropped == 3
    assert _sample(metrics, "serving_capture_dropped_total") == 3
    writer.close()
    assert len(_records(tmp_path)) == 8


def test_files_rotate_by_size(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path, max_file_bytes=2048)
    writer.start()
    for i in range(40):
        writer.submit(_batch(0.0, str(i), [CUSTOMER], [_prediction()]))
        if i % 5 == 4:
            writer._wake.set()
            threading.Event().wait(0.05)
    writer.close()
    files = sorted(tmp_path.glob("capture-*.jsonl"))
    assert len(files) > 1
    assert sum(len(f.read_text().splitlines()) for f in files) == 40


def test_records_are_visible_before_shutdown(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path)
    writer.start()
    writer.submit(_batch(0.0, "x", [CUSTOMER], [_prediction()]))
    for _ in range(100):
        if _records(tmp_path):
            break
        threading.Event().wait(0.02)
    assert len(_records(tmp_path)) == 1
    writer.close()


def test_submit_after_close_is_dropped(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path)
    writer.start()
    writer.close()
    assert not writer.submit(_batch(0.0, "late", [CUSTOMER], [_prediction()]))
    assert writer.dropped == 1


def test_a_record_that_does_not_format_is_dropped_alone(tmp_path: Path) -> None:
    metrics = Metrics()
    writer = CaptureWriter(tmp_path, metrics)
    writer.start()
    huge = {**CUSTOMER, "Balance": 10**30}  # valid, but beyond what JSON lines here can hold
    assert writer.submit(_batch(0.0, "a", [CUSTOMER, huge, CUSTOMER], [_prediction()] * 3))
    assert writer.submit(_batch(1.0, "b", [CUSTOMER], [_prediction()]))
    writer.close()

    assert [r["request_id"] for r in _records(tmp_path)] == ["a", "a", "b"]
    assert (writer.written, writer.dropped) == (3, 1)
    assert _sample(metrics, "serving_capture_dropped_total") == 1
    assert _sample(metrics, "serving_capture_queue_depth") == 0
