"""The capture record format, written and read: every serving path's format in one place.

A capture file is JSON lines. Each line is one record in one of these formats:

- ``service``: serving-api's record, one prediction per line (written by ``capture_record``):
  ``{"timestamp", "request_id", "model_version", "features": {...}, "churn_probability",
  "churn_prediction", "risk_level"}``.
- ``sagemaker``: a SageMaker Data Capture record: ``captureData.endpointInput`` holds the request
  body (CSV or JSON, maybe base64), ``endpointOutput`` the answer, ``eventMetadata`` the time.
- ``vertex``: a row of the BigQuery table Vertex AI request-response logging writes, as
  exported to newline-delimited JSON: ``endpoint``, ``deployed_model_id``, ``logging_time``
  (TIMESTAMP), ``request_id`` (NUMERIC), and ``request_payload`` / ``response_payload``
  (REPEATED STRING: JSON texts of the request's instances and of the response's predictions).
- ``rows``: anything else, read as one customer row per line.

Adding a format takes one branch in ``record_format`` and one reader in ``READERS``. Rows come
out flat (the ten features, optionally ``churn_probability`` and ``timestamp``) for drift.

Python 3.10 compatible: this module ships inside the SageMaker tarball with the rest of the core.
"""

from __future__ import annotations

import base64
import csv
import functools
import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from churn_core.schema import FEATURE_NAMES, InvalidCustomerError, customers_from_csv

PROBABILITY = "churn_probability"

Row = dict[str, Any]


# ---- writing: serving-api's record ------------------------------------------------------------

_FEATURE_SET = frozenset(FEATURE_NAMES)
_LINE = orjson.OPT_APPEND_NEWLINE
_JSON_LINE = functools.partial(orjson.dumps, option=_LINE)


def capture_record(
    customer: Mapping[str, Any], prediction: Any, when: datetime, request_id: str | None
) -> Row:
    """One ``service`` record: the customer's ten features (its identifiers and any other keys
    are not kept) and its prediction (a churn_core Prediction), stamped with the request's
    aware UTC time and id. The time stays a ``datetime``: ``capture_lines`` writes it exactly
    as ``isoformat`` does, without formatting it in Python. A customer dict holding exactly the
    ten features is the record's ``features`` itself, not a copy: it must not change until the
    record is written (a request's parsed body does not)."""
    plain = type(customer) is dict and customer.keys() == _FEATURE_SET
    features = customer if plain else _features(customer)
    return {
        "timestamp": when,
        "request_id": request_id,
        "model_version": prediction.model_version,
        "features": features,
        PROBABILITY: prediction.churn_probability,
        "churn_prediction": prediction.churn_prediction,
        "risk_level": prediction.risk_level,
    }


def capture_records(
    customers: Sequence[Mapping[str, Any]],
    predictions: Sequence[Any],
    when: datetime,
    request_id: str | None,
) -> list[Row]:
    """``capture_record`` for every customer of one request."""
    return [
        capture_record(customer, prediction, when, request_id)
        for customer, prediction in zip(customers, predictions, strict=True)
    ]


def capture_time(timestamp: float | None = None) -> datetime:
    """The aware UTC time a record is stamped with (now, or at ``timestamp`` epoch seconds)."""
    if timestamp is None:
        return datetime.now(timezone.utc)
    return datetime.fromtimestamp(timestamp, timezone.utc)


def capture_lines(records: Sequence[Row]) -> bytes:
    """Records as the JSON lines of a capture file, each ending in a newline, in one pass of C
    (orjson). orjson.JSONEncodeError when one does not format (an integer beyond 64 bits)."""
    if len(records) == 1:  # every /predict: no map, no join
        return orjson.dumps(records[0], option=_LINE)
    return b"".join(map(_JSON_LINE, records))


def _features(customer: Mapping[str, Any]) -> Row:
    return {name: customer[name] for name in FEATURE_NAMES}


# ---- reading: one detection function, one reader per format ------------------------------------


def record_format(record: Mapping[str, Any]) -> str:
    """Which format one parsed capture line is in (a key of ``READERS``)."""
    if "captureData" in record:
        return "sagemaker"
    if "features" in record:
        return "service"
    if "request_payload" in record and "logging_time" in record:
        return "vertex"
    return "rows"


def service_rows(record: Mapping[str, Any]) -> list[Row]:
    """The row of one serving-api record: its features next to the record's other fields."""
    return [{**record["features"], **record}]


def plain_rows(record: Mapping[str, Any]) -> list[Row]:
    return [dict(record)]


def sagemaker_rows(record: Mapping[str, Any]) -> list[Row]:
    """Rows of one SageMaker Data Capture record, with probabilities when the output has them."""
    capture = record["captureData"]
    payload = capture["endpointInput"]
    data = _payload_text(payload)
    when = record.get("eventMetadata", {}).get("inferenceTime")
    if "csv" in payload.get("observedContentType", "").lower():
        rows = _csv_rows(data)
    else:
        body = json.loads(data)
        rows = body.get("instances", body) if isinstance(body, dict) else body
        rows = [rows] if isinstance(rows, dict) else list(rows)
    probabilities = _sagemaker_probabilities(capture.get("endpointOutput"))
    if probabilities is not None and len(probabilities) == len(rows):
        rows = [{**r, PROBABILITY: p} for r, p in zip(rows, probabilities, strict=True)]
    return [{**r, "timestamp": when} for r in rows]


def vertex_rows(record: Mapping[str, Any]) -> list[Row]:
    """Rows of one Vertex AI request-response log row: each payload element is the JSON text
    of one instance (or of a whole ``{"instances": [...]}`` body); predictions pair up with
    the instances by position when there are as many."""
    rows: list[Row] = []
    for text in _repeated(record.get("request_payload")):
        body = json.loads(text)
        items = body.get("instances", body) if isinstance(body, dict) else body
        rows.extend([items] if isinstance(items, dict) else list(items))
    predictions: list[Any] = []
    for text in _repeated(record.get("response_payload")):
        body = json.loads(text)
        items = body.get("predictions", body) if isinstance(body, dict) else body
        predictions.extend([items] if isinstance(items, dict) else list(items))
    if len(predictions) == len(rows):
        try:
            probabilities = [float(p[PROBABILITY]) for p in predictions]
            rows = [{**r, PROBABILITY: q} for r, q in zip(rows, probabilities, strict=True)]
        except (KeyError, TypeError, ValueError):
            pass
    when = _bigquery_timestamp(record.get("logging_time"))
    return [{**r, "timestamp": when} for r in rows]


READERS: dict[str, Callable[[Mapping[str, Any]], list[Row]]] = {
    "service": service_rows,
    "sagemaker": sagemaker_rows,
    "vertex": vertex_rows,
    "rows": plain_rows,
}


def record_rows(record: Mapping[str, Any]) -> list[Row]:
    """The rows one capture record holds, whatever its format."""
    return READERS[record_format(record)](record)


def read_capture_file(path: str | Path) -> list[Row]:
    """Every row of a JSON-lines capture file (``.gz`` is decompressed), any mix of formats;
    a torn last line is skipped (see ``read_capture_lines``)."""
    return read_capture_lines(path)[0]


def read_capture_lines(path: str | Path) -> tuple[list[Row], int]:
    """The rows of a capture file and how many torn lines were skipped (0 or 1).

    A writer killed mid-record, or one whose disk filled, can leave the file's last line cut
    short: without its newline and not valid JSON, or a gzip stream that stops early. That
    record was never complete, so it is skipped and counted instead of failing the whole read.
    A bad line anywhere else is corruption, and raises.
    """
    import gzip

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    rows: list[Row] = []
    torn = 0
    with opener(path, "rt", encoding="utf-8") as handle:
        try:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    if line.endswith("\n"):
                        raise  # a whole line that is not JSON: corruption, not a torn write
                    torn += 1  # the last line, cut short
                    continue
                rows.extend(record_rows(record))
        except EOFError:  # a gzip stream cut short: what was read stands
            torn += 1
    return rows, torn


def _payload_text(payload: Mapping[str, Any]) -> str:
    data = payload.get("data", "")
    if payload.get("encoding", "").upper() == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    return data


def _sagemaker_probabilities(output: Mapping[str, Any] | None) -> list[float] | None:
    if not output:
        return None
    try:
        body = json.loads(_payload_text(output))
    except json.JSONDecodeError:
        return None
    predictions = body.get("predictions", body) if isinstance(body, dict) else body
    predictions = [predictions] if isinstance(predictions, dict) else predictions
    try:
        return [float(p[PROBABILITY]) for p in predictions]
    except (KeyError, TypeError):
        return None


def _repeated(value: Any) -> list[str]:
    """A REPEATED STRING column: a JSON array in the export (a lone string is one element)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [v for v in value if v]


def _bigquery_timestamp(value: Any) -> str | None:
    """BigQuery's export writes ``2026-11-20 10:00:00.123456 UTC``; drift wants ISO 8601."""
    if value is None:
        return None
    text = str(value).strip()
    if text.endswith(" UTC"):
        text = text[:-4].replace(" ", "T") + "+00:00"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()


def _csv_rows(text: str) -> list[Row]:
    try:
        return customers_from_csv(text)
    except InvalidCustomerError:
        # Keep the raw cells: the data-quality check counts the rows they make invalid.
        rows = csv.reader(io.StringIO(text))
        return [dict(zip(FEATURE_NAMES, row, strict=False)) for row in rows if row]
