"""Drift between a reference sample and current traffic: KS, chi-square and PSI per feature,
prediction drift, and data quality — vectorised, so a million rows take seconds.

A feature is flagged when its PSI reaches ``psi_threshold`` or its test's p-value is below
``p_threshold`` divided by the number of features tested (Bonferroni), so the chance of any
false alarm on a drift-free batch stays near ``p_threshold``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_core.bundle import REFERENCE_FILE, read_verified
from churn_core.data import DataValidationError, file_format, iter_chunks, split_valid
from churn_core.schema import (
    FEATURE_NAMES,
    FEATURES,
    FeatureSpec,
    InvalidCustomerError,
    customers_from_csv,
)

if TYPE_CHECKING:
    import pandas as pd

REPORT_SCHEMA_VERSION = 1
PROBABILITY = "churn_probability"
PSI_BINS = 10
_EPS = 1e-4  # floor for empty bins in PSI, as is customary


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    p_value: float = 0.01
    invalid_share: float = 0.01
    # Below this many valid rows PSI and the tests say nothing: a handful of captured requests
    # would flag every feature. Too few rows is an error to report, not drift.
    min_rows: int = 100


def is_discrete(spec: FeatureSpec) -> bool:
    """Categories, 0/1 flags and small integer ranges are compared as counts (chi-square)."""
    if spec.kind == "category" or spec.categories is not None:
        return True
    return spec.kind == "int" and (spec.maximum or 0) - (spec.minimum or 0) <= 10


def _levels(spec: FeatureSpec) -> list[Any]:
    if spec.categories is not None:
        return list(spec.categories)
    return list(range(int(spec.minimum or 0), int(spec.maximum or 0) + 1))


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two distributions given as bin shares."""
    e = np.clip(expected, _EPS, None)
    a = np.clip(actual, _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def quantile_psi(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1
    )
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1)
    return psi(ref_share / reference.size, cur_share / current.size)


def _numeric(reference: np.ndarray, current: np.ndarray) -> dict[str, Any]:
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current, method="asymp")
    return {
        "test": "ks",
        "statistic": float(result.statistic),
        "p_value": float(result.pvalue),
        "psi": quantile_psi(reference, current),
    }


def _discrete(reference: np.ndarray, current: np.ndarray, levels: list[Any]) -> dict[str, Any]:
    from scipy.stats import chi2_contingency

    ref_counts = np.array([np.sum(reference == level) for level in levels], dtype=float)
    cur_counts = np.array([np.sum(current == level) for level in levels], dtype=float)
    seen = (ref_counts + cur_counts) > 0
    table = np.vstack([ref_counts[seen], cur_counts[seen]])
    if table.shape[1] < 2:
        statistic, p_value = 0.0, 1.0
    else:
        statistic, p_value, _, _ = chi2_contingency(table)
    return {
        "test": "chi2",
        "statistic": float(statistic),
        "p_value": float(p_value),
        "psi": psi(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()),
        "shares": {
            str(level): {"reference": r / ref_counts.sum(), "current": c / cur_counts.sum()}
            for level, r, c in zip(levels, ref_counts, cur_counts, strict=True)
        },
    }


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, dict[str, Any]]:
    out = {}
    for spec in FEATURES:
        ref, cur = reference[spec.name].to_numpy(), current[spec.name].to_numpy()
        if is_discrete(spec):
            out[spec.name] = {"kind": "discrete", **_discrete(ref, cur, _levels(spec))}
        else:
            out[spec.name] = {"kind": "numeric", **_numeric(ref.astype(float), cur.astype(float))}
    return out


# ---- reading current traffic: files, capture directories, SageMaker Data Capture -------------


def _decode_sagemaker(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one SageMaker Data Capture record (``captureData.endpointInput``)."""
    capture = record["captureData"]
    payload = capture["endpointInput"]
    data = payload.get("data", "")
    if payload.get("encoding", "").upper() == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
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


def _sagemaker_probabilities(output: dict[str, Any] | None) -> list[float] | None:
    if not output:
        return None
    data = output.get("data", "")
    if output.get("encoding", "").upper() == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    try:
        body = json.loads(data)
    except json.JSONDecodeError:
        return None
    predictions = body.get("predictions", body) if isinstance(body, dict) else body
    predictions = [predictions] if isinstance(predictions, dict) else predictions
    try:
        return [float(p[PROBABILITY]) for p in predictions]
    except (KeyError, TypeError):
        return None


def _csv_rows(text: str) -> list[dict[str, Any]]:
    try:
        return customers_from_csv(text)
    except InvalidCustomerError:
        # Keep the raw cells: the data-quality check counts the rows they make invalid.
        rows = csv.reader(io.StringIO(text))
        return [dict(zip(FEATURE_NAMES, row, strict=False)) for row in rows if row]


def _read_jsonl_records(path: Path) -> list[dict[str, Any]]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    rows: list[dict[str, Any]] = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            if "captureData" in record:
                rows.extend(_decode_sagemaker(record))
            elif "features" in record:
                rows.append({**record["features"], **record})
            else:
                rows.append(record)
    return rows


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist")
    patterns = ("*.jsonl", "*.jsonl.gz", "*.json", "*.csv", "*.parquet")
    found = sorted({p for pattern in patterns for p in path.rglob(pattern) if p.is_file()})
    if not found:
        raise DataValidationError(
            [{"row": None, "field": "(directory)", "value": str(path), "check": "files"}],
            f"no capture or data files under {path}",
        )
    return found


def read_current(
    path: str | Path, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Rows of a file or of every capture file under a directory, within [since, until)."""
    import pandas as pd

    files = _files(Path(path))
    if since:
        # A file last written before `since` holds no record from `since` on: skip it unread,
        # so a daily job does not parse the whole capture history.
        files = [f for f in files if f.stat().st_mtime >= since.timestamp()]
    frames = []
    for file in files:
        if file_format(file) == "jsonl":
            frames.append(pd.DataFrame(_read_jsonl_records(file)))
        else:
            frames.extend(iter_chunks(file, chunk_rows=1_000_000))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if (since or until) and "timestamp" in frame.columns:
        stamps = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
        keep = np.ones(len(frame), dtype=bool)
        if since:
            keep &= (stamps >= pd.Timestamp(since)).to_numpy()
        if until:
            keep &= (stamps < pd.Timestamp(until)).to_numpy()
        frame = frame[keep].reset_index(drop=True)
    return frame


def read_reference(path: str | Path) -> pd.DataFrame:
    """A reference file, or the training sample stored in a bundle directory."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        root, _ = read_verified(path)
        return pd.read_csv(root / REFERENCE_FILE)
    return pd.concat(list(iter_chunks(path, chunk_rows=1_000_000)), ignore_index=True)


# ---- the report ------------------------------------------------------------------------------


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    thresholds: Thresholds = Thresholds(),
    sources: tuple[str, str] = ("reference", "current"),
) -> dict[str, Any]:
    """The drift report as a JSON-ready dict (documented in churn-core's README)."""
    ref_valid, _ = split_valid(reference)
    if current.empty:
        raise DataValidationError(
            [{"row": None, "field": "(current)", "value": sources[1], "check": "rows"}],
            f"{sources[1]}: no rows to check",
        )
    cur_valid, failures = split_valid(current)
    if len(cur_valid) < thresholds.min_rows:
        raise DataValidationError(
            failures,
            f"{sources[1]}: {len(cur_valid)} valid rows, too few to judge drift "
            f"(at least {thresholds.min_rows}, --min-rows)",
        )
    features = feature_drift(ref_valid, cur_valid)
    corrected = thresholds.p_value / len(features)
    for result in features.values():
        result["drifted"] = bool(result["psi"] >= thresholds.psi or result["p_value"] < corrected)
    prediction = None
    if PROBABILITY in reference.columns and PROBABILITY in current.columns:
        ref_p = reference[PROBABILITY].dropna().to_numpy(float)
        cur_p = current[PROBABILITY].dropna().to_numpy(float)
        if ref_p.size and cur_p.size:
            prediction = _numeric(ref_p, cur_p)
            prediction["drifted"] = bool(
                prediction["psi"] >= thresholds.psi or prediction["p_value"] < thresholds.p_value
            )
            prediction["mean"] = {"reference": float(ref_p.mean()), "current": float(cur_p.mean())}
    invalid_share = (len(current) - len(cur_valid)) / len(current)
    quality = {
        "rows": len(current),
        "invalid_rows": len(current) - len(cur_valid),
        "invalid_share": invalid_share,
        "failed": invalid_share > thresholds.invalid_share,
        "failures": [{k: _plain(v) for k, v in f.items()} for f in failures[:50]],
    }
    drifted = [name for name, result in features.items() if result["drifted"]]
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "reference": {"source": sources[0], "rows": len(ref_valid)},
        "current": {"source": sources[1], "rows": len(cur_valid)},
        "thresholds": {
            "psi": thresholds.psi,
            "p_value": thresholds.p_value,
            "p_value_corrected": corrected,
            "correction": "bonferroni",
            "invalid_share": thresholds.invalid_share,
        },
        "features": features,
        "prediction": prediction,
        "data_quality": quality,
        "drifted_features": drifted,
        "drift": bool(drifted) or bool(prediction and prediction["drifted"]) or quality["failed"],
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def push_metrics(report: dict[str, Any], url: str, job: str = "churn-drift") -> None:
    """Push the report's gauges to a Prometheus Pushgateway."""
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

    registry = CollectorRegistry()
    labels = ["feature"]
    psi_gauge = Gauge("churn_drift_psi", "PSI per feature", labels, registry=registry)
    stat = Gauge("churn_drift_statistic", "KS or chi-square statistic", labels, registry=registry)
    p_gauge = Gauge("churn_drift_p_value", "Test p-value per feature", labels, registry=registry)
    flag = Gauge(
        "churn_drift_feature_drifted", "1 if the feature drifted", labels, registry=registry
    )
    for name, result in report["features"].items():
        psi_gauge.labels(name).set(result["psi"])
        stat.labels(name).set(result["statistic"])
        p_gauge.labels(name).set(result["p_value"])
        flag.labels(name).set(int(result["drifted"]))
    if report["prediction"]:
        psi_gauge.labels(PROBABILITY).set(report["prediction"]["psi"])
        stat.labels(PROBABILITY).set(report["prediction"]["statistic"])
        p_gauge.labels(PROBABILITY).set(report["prediction"]["p_value"])
        flag.labels(PROBABILITY).set(int(report["prediction"]["drifted"]))
    Gauge("churn_drift_detected", "1 if drift was detected", registry=registry).set(
        int(report["drift"])
    )
    Gauge("churn_drift_rows_checked", "Valid current rows compared", registry=registry).set(
        report["current"]["rows"]
    )
    Gauge("churn_drift_invalid_share", "Share of invalid current rows", registry=registry).set(
        report["data_quality"]["invalid_share"]
    )
    Gauge(
        "churn_drift_last_run_timestamp_seconds", "When the drift job last ran", registry=registry
    ).set_to_current_time()
    push_to_gateway(url, job=job, registry=registry)


def write_html(reference: pd.DataFrame, current: pd.DataFrame, out: str | Path) -> None:
    """An Evidently data-drift report (Evidently is imported only here: it takes seconds)."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    columns = list(FEATURE_NAMES)
    snapshot = Report([DataDriftPreset()]).run(
        current_data=current[columns], reference_data=reference[columns]
    )
    snapshot.save_html(str(out))
