"""Scoring a Spark DataFrame with ``churn_core.Predictor`` inside ``mapInPandas``.

Each Python worker loads and verifies the bundle once (the driver's trust policy travels with
the task, so workers honour ``CHURN_TRUSTED_PUBLIC_KEYS`` even where their environment lacks
it) and scores Arrow batches with the same calls as ``churn-core score``: ``split_valid``
(numpy checks of the schema's rules; pandera names the failures of a batch where a row fails)
and ``Predictor.predict_proba``. A batch in which a whole column has the wrong type (an integer
column holding a null arrives as floats) is validated row by row with ``validate_customers``,
the Predictor's own rule. Bad rows never fail the job: they come out as
rejected rows with their identifier and every bad field, so rows in = scored + rejected.

One pass scores: the scored output is written while an Observation counts the rows and the
rejected ones on the way (no cache of the scored data, no second pass to count). The rejected
rows come from their own plan that only validates (the identifier and the ten features read,
no prediction, only bad rows come back), run by the job when the count says there are any.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_core.data import DataValidationError, columns_of, split_valid
from churn_core.features import Columns, columns_from_records
from churn_core.schema import (
    FEATURE_NAMES,
    FEATURES,
    IDENTIFIERS,
    InvalidCustomerError,
    validate_customers,
)
from churn_core.scoring import risk_levels
from churn_core.signing import TrustedKey, resolve_trusted_keys

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, Observation

    from churn_core.predictor import Predictor

ROW_ID = "row_id"  # added when the frame has none of the identifier columns
ERRORS = "_churn_errors"  # JSON list of {field, value, check}; null on scored rows
ERRORS_TYPE = "array<struct<field:string,value:string,check:string>>"
PREDICTION_COLUMNS = (
    ("churn_probability", "double"),
    ("churn_prediction", "int"),
    ("risk_level", "string"),
    ("model_version", "string"),
)

_PREDICTORS: dict[tuple[str, tuple[str, ...]], Predictor] = {}


@dataclass(frozen=True)
class ScoredFrames:
    """``scored``: the input columns plus the prediction fields of the valid rows; ``counts``:
    filled by the first action on ``scored`` (``counts.get``: ``rows`` in, ``rejected``);
    ``rejected``: the identifier column and ``errors`` (every bad field of the row), its own
    validation-only plan."""

    scored: DataFrame
    counts: Observation
    rejected: DataFrame
    id_column: str


def worker_predictor(bundle: str, trusted_keys: Sequence[TrustedKey]) -> Predictor:
    """The Predictor of this Python process, loaded (and its signature checked) on first use."""
    key = (bundle, tuple(k.fingerprint for k in trusted_keys))
    if key not in _PREDICTORS:
        # One LightGBM thread per worker: Spark runs a worker per core already. Set before
        # LightGBM's OpenMP runtime starts (the first load in this process).
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from churn_core.predictor import Predictor

        _PREDICTORS[key] = Predictor.from_bundle(bundle, trusted_keys=list(trusted_keys))
    return _PREDICTORS[key]


Failures = dict[int, list[dict[str, Any]]]  # row position -> every bad field of that row


def _mask(size: int, bad: Failures) -> np.ndarray:
    mask = np.ones(size, dtype=bool)
    mask[list(bad)] = False
    return mask


def _validate_records(features: pd.DataFrame) -> tuple[np.ndarray, Failures, Columns]:
    """The Predictor's own per-record validation (a null is None, 40.0 is the integer 40)."""
    cells = features.astype(object).where(features.notna(), None)
    records = [dict(zip(FEATURE_NAMES, row, strict=True)) for row in cells.itertuples(index=False)]
    bad: Failures = {}
    try:
        validate_customers(records)
    except InvalidCustomerError as exc:
        for error in exc.errors:
            value = records[error.index].get(error.field)
            bad.setdefault(error.index, []).append(
                {"field": error.field, "value": value, "check": error.message}
            )
    mask = _mask(len(records), bad)
    valid = validate_customers([r for r, ok in zip(records, mask, strict=True) if ok])
    return mask, bad, columns_from_records(valid)


def validate_batch(batch: pd.DataFrame) -> tuple[np.ndarray, Failures, Columns]:
    """(valid-row mask, failures, the valid rows' feature columns) with ``churn-core score``'s
    validation (``split_valid``); a whole column of the wrong type falls back to the per-record
    rule. Rows are counted by position; columns other than the features are not judged."""
    try:
        valid, failures = split_valid(batch, first_row=0)
    except DataValidationError:
        return _validate_records(batch[list(FEATURE_NAMES)])
    bad: Failures = {}
    for failure in failures:
        bad.setdefault(failure["row"], []).append(
            {"field": failure["field"], "value": failure["value"], "check": failure["check"]}
        )
    return _mask(len(batch), bad), bad, columns_of(valid)


def errors_json(failures: list[dict[str, Any]]) -> str:
    """One row's failures as the JSON text of the errors column (values as text)."""
    return json.dumps(
        [{**f, "value": None if f["value"] is None else str(f["value"])} for f in failures]
    )


def rejected_batch(batch: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """The bad rows of one Arrow batch: their identifier and the JSON of their failures."""
    _, bad, _ = validate_batch(batch)
    rows = sorted(bad)
    out = batch[[id_column]].iloc[rows].reset_index(drop=True)
    # An object array, not a list: a batch without bad rows must give Arrow an empty string
    # column (pandas makes an empty list's column something pyarrow reads as chunks).
    out[ERRORS] = np.array([errors_json(bad[row]) for row in rows], dtype=object)
    return out


def score_batch(predictor: Predictor, batch: pd.DataFrame) -> pd.DataFrame:
    """One Arrow batch with the prediction columns, and the errors of rows that were not
    scored, added to it (pyspark makes a new frame per batch: copying it again is waste)."""
    import pandas as pd

    mask, bad, columns = validate_batch(batch)
    probabilities = np.full(len(batch), np.nan)
    if mask.any():
        probabilities[mask] = predictor.predict_proba(columns)
    prediction = pd.array(np.where(probabilities >= predictor.threshold, 1, 0), dtype="Int32")
    prediction[~mask] = pd.NA
    levels = np.full(len(batch), None, dtype=object)
    levels[mask] = risk_levels(probabilities[mask])
    errors = np.full(len(batch), None, dtype=object)
    for position, failures in bad.items():
        errors[position] = errors_json(failures)
    batch["churn_probability"] = probabilities
    batch["churn_prediction"] = prediction
    batch["risk_level"] = levels
    batch["model_version"] = np.where(mask, predictor.model_version, None)
    batch[ERRORS] = errors
    return batch


def _score_batches(bundle: str, trusted_keys: Sequence[TrustedKey]) -> Any:
    """The mapInPandas function. Only the bundle path and the keys travel with the closure;
    the Predictor lives in this module's cache in each worker process (workers are reused)."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        predictor = worker_predictor(bundle, trusted_keys)
        for batch in batches:
            yield score_batch(predictor, batch)

    return run


def _rejected_batches(id_column: str) -> Any:
    """The mapInPandas function of the rejected rows (validation only, no bundle needed)."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield rejected_batch(batch, id_column)

    return run


def typed_features(frame: DataFrame) -> DataFrame:
    """Integer features as bigint, float features as double, when Spark already holds them as
    numbers (exact widenings: pandas then sees int64/float64 as the single process does).
    Strings stay strings: their cells are judged, and named, by validation."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegralType, NumericType

    types = {field.name: field.dataType for field in frame.schema.fields}
    casts = {}
    for spec in FEATURES:
        kind = types[spec.name]
        if spec.kind == "int" and isinstance(kind, IntegralType):
            casts[spec.name] = F.col(spec.name).cast("bigint")
        elif spec.kind == "float" and isinstance(kind, NumericType):
            casts[spec.name] = F.col(spec.name).cast("double")
    return frame.withColumns(casts) if casts else frame


def identifier_column(frame: DataFrame) -> str | None:
    """CustomerId, else RowNumber, else Surname: the first identifier the frame carries."""
    for name in ("CustomerId", "RowNumber", *IDENTIFIERS):
        if name in frame.columns:
            return name
    return None


def score_frame(
    frame: DataFrame,
    bundle: str,
    trusted_keys: Sequence[str | TrustedKey] | None = None,
    id_column: str | None = None,
) -> ScoredFrames:
    """Score a DataFrame holding the ten feature columns (other columns pass through).

    ``bundle`` must be readable by every executor (in the image, or shipped with the job).
    ``trusted_keys`` (``None``: ``CHURN_TRUSTED_PUBLIC_KEYS`` on the driver) is checked here on
    the driver first, so a refused bundle stops the job before any task starts.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    missing = [name for name in FEATURE_NAMES if name not in frame.columns]
    if missing:
        raise DataValidationError(
            [{"row": None, "field": name, "value": None, "check": "column"} for name in missing],
            f"missing feature column(s): {', '.join(missing)}",
        )
    keys = resolve_trusted_keys(trusted_keys)
    worker_predictor(str(bundle), keys)  # refuse a bad bundle before the job starts
    id_column = id_column or identifier_column(frame)
    if id_column is None:
        id_column, frame = ROW_ID, frame.withColumn(ROW_ID, F.monotonically_increasing_id())
    frame = typed_features(frame)
    output = ", ".join(
        [f"`{f.name}` {f.dataType.simpleString()}" for f in frame.schema.fields]
        + [f"{name} {kind}" for name, kind in PREDICTION_COLUMNS]
        + [f"{ERRORS} string"]
    )
    combined = frame.mapInPandas(_score_batches(str(bundle), keys), schema=output)
    counts = Observation("churn-score")
    scored = (
        combined.observe(counts, F.count(F.lit(1)).alias("rows"), F.count(ERRORS).alias("rejected"))
        .where(F.col(ERRORS).isNull())
        .drop(ERRORS)
    )
    checked = frame.select(id_column, *FEATURE_NAMES)
    id_type = checked.schema[id_column].dataType.simpleString()
    rejected = checked.mapInPandas(
        _rejected_batches(id_column), schema=f"`{id_column}` {id_type}, {ERRORS} string"
    ).select(id_column, F.from_json(ERRORS, ERRORS_TYPE).alias("errors"))
    return ScoredFrames(scored, counts, rejected, id_column)
