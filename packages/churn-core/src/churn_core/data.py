"""Synthetic customers, and loading CSV / Parquet / JSON-lines files validated with pandera."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_core.schema import (
    CATEGORICAL,
    FEATURE_BY_NAME,
    FEATURE_NAMES,
    FEATURES,
    IDENTIFIERS,
    LABEL,
)

if TYPE_CHECKING:
    import pandas as pd

# Marginals of the Kaggle Churn_Modelling data, rounded.
_GEOGRAPHY_P = (0.50, 0.25, 0.25)  # France, Germany, Spain
_PRODUCTS_P = (0.508, 0.459, 0.027, 0.006)
_CHURN_INTERCEPT = -1.75  # calibrated so that about 20 % of customers churn


def generate(rows: int, seed: int = 0, drift: float = 0.0) -> pd.DataFrame:
    """Synthetic customers with the real data's marginals and a learnable churn signal.

    ``drift`` (0 = none, 1 = strong) shifts Age, Balance, CreditScore and Geography for drift demos.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    germany_share = min(0.25 + 0.5 * drift, 0.9)
    geo_p = np.array([_GEOGRAPHY_P[0], germany_share, _GEOGRAPHY_P[2]])
    geography = rng.choice(CATEGORICAL["Geography"], size=rows, p=geo_p / geo_p.sum())
    gender = rng.choice(CATEGORICAL["Gender"], size=rows, p=(0.454, 0.546))
    age = np.clip(np.round(18 + rng.gamma(4.6, 4.6, rows) + 12 * drift), 18, 92).astype(np.int64)
    credit = np.clip(np.round(rng.normal(650 - 60 * drift, 96.6, rows)), 350, 850).astype(np.int64)
    tenure = rng.integers(0, 11, rows)
    has_balance = rng.random(rows) < np.where(geography == "Germany", 0.999, 0.52)
    balance = np.where(
        has_balance, np.clip(rng.normal(119_800 * (1 + drift), 30_000, rows), 3_700, 251_000), 0.0
    ).round(2)
    products = rng.choice(np.arange(1, 5), size=rows, p=_PRODUCTS_P)
    has_card = (rng.random(rows) < 0.705).astype(np.int64)
    active = (rng.random(rows) < 0.515).astype(np.int64)
    salary = rng.uniform(11.58, 199_992.48, rows).round(2)

    logit = (
        _CHURN_INTERCEPT
        + 0.75 * (geography == "Germany")
        + 0.5 * (gender == "Female")
        + 1.1 * ((age >= 45) & (age <= 60))
        + 0.5 * ((age >= 38) & (age < 45))
        - 0.4 * (age < 30)
        - 0.9 * active
        + np.select([products == 1, products == 2, products >= 3], [0.35, -1.3, 2.8])
        + 0.2 * (balance > 0)
        - 0.002 * (credit - 650)
    )
    exited = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(
        {
            "CreditScore": credit,
            "Geography": geography,
            "Gender": gender,
            "Age": age,
            "Tenure": tenure,
            "Balance": balance,
            "NumOfProducts": products,
            "HasCrCard": has_card,
            "IsActiveMember": active,
            "EstimatedSalary": salary,
            LABEL: exited,
        }
    )


class DataValidationError(ValueError):
    """A file whose rows break the schema; ``failures`` lists (row, field, value, check)."""

    def __init__(self, failures: list[dict[str, Any]], source: str = "data"):
        self.failures = failures
        shown = "; ".join(
            f"row {f['row']} {f['field']}={f['value']!r} ({f['check']})" for f in failures[:20]
        )
        more = f" … and {len(failures) - 20} more" if len(failures) > 20 else ""
        super().__init__(f"{source}: {len(failures)} invalid value(s): {shown}{more}")


def frame_schema(label: bool = False):  # -> pandera.DataFrameSchema
    """The pandera schema for frames, built from the one feature definition."""
    import pandera.pandas as pa

    columns: dict[str, Any] = {}
    for spec in FEATURES:
        checks = []
        if spec.categories is not None:
            checks.append(pa.Check.isin(list(spec.categories)))
        if spec.minimum is not None:
            checks.append(pa.Check.ge(spec.minimum))
        if spec.maximum is not None:
            checks.append(pa.Check.le(spec.maximum))
        # Categories need no dtype check: isin() already admits only the listed strings, and a
        # per-element str check costs ~0.4 s per million rows.
        dtype = {"int": "int64", "float": "float64", "category": None}[spec.kind]
        # ints stay strict (3.5 years of tenure is an error); float columns may arrive as ints.
        columns[spec.name] = pa.Column(dtype, checks, nullable=False, coerce=spec.kind == "float")
    if label:
        columns[LABEL] = pa.Column("int64", pa.Check.isin([0, 1]), nullable=False)
    return pa.DataFrameSchema(columns, strict="filter", name="customers")


def validate_frame(
    frame: pd.DataFrame, label: bool = False, source: str = "data", first_row: int = 1
) -> pd.DataFrame:
    """Validate lazily (every bad row and field at once) and keep only the schema's columns."""
    from pandera.errors import SchemaErrors

    try:
        return frame_schema(label).validate(frame, lazy=True)
    except SchemaErrors as exc:
        raise DataValidationError(_failures(exc, frame, first_row), source) from None


def split_valid(
    frame: pd.DataFrame, first_row: int = 1
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(valid rows, failures) — for scoring, where bad rows are reported, not fatal.

    A frame whose every row passes (``all_valid``) is returned without pandera, its columns
    shared with ``frame`` (not copied); otherwise pandera names every failure as before.
    """
    valid = all_valid(frame)
    if valid is not None:
        return valid, []
    from pandera.errors import SchemaErrors

    try:
        return frame_schema().validate(frame, lazy=True), []
    except SchemaErrors as exc:
        failures = _failures(exc, frame, first_row)
        bad_positions = {f["row"] - first_row for f in failures if f["row"] is not None}
        if any(f["row"] is None for f in failures):
            raise DataValidationError(failures) from None
        keep = np.ones(len(frame), dtype=bool)
        keep[sorted(bad_positions)] = False
        rest = frame[keep]
        valid = all_valid(rest)
        return (frame_schema().validate(rest) if valid is None else valid), failures


_INT64, _FLOAT64 = np.dtype("int64"), np.dtype("float64")


def all_valid(frame: pd.DataFrame) -> pd.DataFrame | None:
    """What ``frame_schema().validate(frame)`` returns when every row of ``frame`` passes, else
    None: the schema's rules checked on whole columns with numpy, without importing pandera
    (about a second on a cold start) and without copying the frame.

    It answers only for the layouts the readers produce (int features int64, float features
    float64 or int64); for anything else (an empty frame, float32, numbers as objects, a column
    name twice), as for any row that breaks a rule, it returns None and pandera decides and
    names the failures. So it never passes a frame that pandera would refuse. The result holds
    the frame's own columns (int64 float features converted as pandera coerces them) in the
    frame's order, the other columns dropped: change it and ``frame`` changes too.
    """
    import pandas as pd

    if len(frame) == 0 or not frame.columns.is_unique:
        return None
    if any(name not in frame.columns for name in FEATURE_NAMES):
        return None
    for spec in FEATURES:
        series = frame[spec.name]
        if spec.kind == "category":
            if not series.isin(spec.categories).all():  # a null is in no category
                return None
            continue
        allowed = (_INT64,) if spec.kind == "int" else (_FLOAT64, _INT64)
        if series.dtype not in allowed:
            return None
        values = series.to_numpy()
        if spec.categories is not None and not np.isin(values, spec.categories).all():
            return None
        low, high = values.min(), values.max()
        if np.isnan(low):  # a null (NaN) in a float column: min propagates it
            return None
        if spec.minimum is not None and low < spec.minimum:
            return None
        if spec.maximum is not None and high > spec.maximum:
            return None
    columns = {}
    for name in frame.columns:
        spec = FEATURE_BY_NAME.get(name)
        if spec is not None:
            series = frame[name]
            columns[name] = series.astype(_FLOAT64, copy=False) if spec.kind == "float" else series
    return pd.DataFrame(columns, copy=False)


def _failures(exc: Any, frame: pd.DataFrame, first_row: int) -> list[dict[str, Any]]:
    cases = exc.failure_cases
    positions = {idx: pos for pos, idx in enumerate(frame.index)}
    out = []
    for case in cases.itertuples(index=False):
        index = getattr(case, "index", None)
        row = None if index is None or index != index else positions.get(index)
        out.append(
            {
                "row": None if row is None else row + first_row,
                "field": case.column if case.column else str(case.check),
                "value": None if _missing(case.failure_case) else case.failure_case,
                "check": str(case.check),
            }
        )
    out.sort(key=lambda f: (f["row"] is None, f["row"] or 0, f["field"]))
    return out


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA (a null from Arrow): ``!=`` alone raises on NA."""
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def file_format(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    formats = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl"}
    formats.update({".csv.gz": "csv", ".jsonl.gz": "jsonl", ".json.gz": "jsonl"})
    if suffix not in formats:
        raise DataValidationError(
            [{"row": None, "field": "(file)", "value": str(path), "check": "format"}],
            f"unsupported file type {suffix!r} (use .csv, .parquet or .jsonl)",
        )
    return formats[suffix]


def _flatten_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Capture records written by the services keep the customer under "features".
    return [{**r.get("features", {}), **r} if "features" in r else r for r in records]


def iter_chunks(path: str | Path, chunk_rows: int = 100_000) -> Iterator[pd.DataFrame]:
    """Raw (unvalidated) chunks of a CSV, Parquet or JSON-lines file, identifiers dropped."""
    import pandas as pd

    path = Path(path)
    fmt = file_format(path)
    if fmt == "csv":
        chunks: Any = pd.read_csv(path, chunksize=chunk_rows)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        chunks = (b.to_pandas() for b in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows))
    else:
        chunks = _jsonl_chunks(path, chunk_rows)
    for chunk in chunks:
        identifiers = [c for c in IDENTIFIERS if c in chunk.columns]
        # drop() copies every column even when it drops none: only call it when it drops some.
        yield chunk.drop(columns=identifiers) if identifiers else chunk


def read_file(path: str | Path) -> pd.DataFrame:
    """A whole CSV, Parquet or JSON-lines file as one raw (unvalidated) frame, identifiers
    dropped, indexed 0..n-1: ``iter_chunks``' chunks joined. A Parquet file is read in one
    piece without its identifier columns, and a file of one chunk is not concatenated: each
    would copy every column once more (a million rows: ~90 MB of fresh memory per copy)."""
    import pandas as pd

    path = Path(path)
    if file_format(path) == "parquet":
        import pyarrow as pa
        import pyarrow.dataset as ds

        # The Arrow table lives only until it is converted, so which allocator holds it is free
        # to choose. Arrow's default (mimalloc) made this read of a million rows take 1.0-1.7 s
        # on the 2-core dev VM, the system allocator 0.15-0.4 s (same runs, docs/FIGURES.md).
        pool = pa.system_memory_pool()
        source = ds.dataset(path, format="parquet")
        columns = [n for n in source.schema.names if n not in IDENTIFIERS]
        table = source.to_table(columns=columns, memory_pool=pool)
        frames = [table.to_pandas(memory_pool=pool)] if table.num_rows else []
    else:
        frames = list(iter_chunks(path, chunk_rows=1_000_000))
    if len(frames) != 1:
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame = frames[0]
    frame.index = pd.RangeIndex(len(frame))
    return frame


def _jsonl_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import gzip

    import pandas as pd

    opener = gzip.open if path.suffix == ".gz" else open
    batch: list[dict[str, Any]] = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                batch.append(json.loads(line))
            if len(batch) >= chunk_rows:
                yield pd.DataFrame(_flatten_records(batch))
                batch = []
    if batch:
        yield pd.DataFrame(_flatten_records(batch))


def load(path: str | Path, label: bool | None = None) -> pd.DataFrame:
    """Load and validate a whole file. ``label=None`` keeps ``Exited`` when the file has it."""
    frame = read_file(path)
    with_label = LABEL in frame.columns if label is None else label
    return validate_frame(frame, label=with_label, source=str(path))


def columns_of(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {name: frame[name].to_numpy() for name in FEATURE_NAMES}


def write_request_body(frame: pd.DataFrame, path: str | Path) -> None:
    """The features as a request body, without the label.

    ``.csv``: rows in schema order without a header (SageMaker's ``text/csv``, Batch Transform
    input); otherwise JSON: one customer object, or ``{"instances": [...]}`` for several (the
    bodies ``/predict`` and ``/predict/batch`` take: ``curl -d @FILE``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    features = frame[list(FEATURE_NAMES)]
    if path.suffix == ".csv":
        features.to_csv(path, header=False, index=False)
        return
    records = features.to_dict(orient="records")
    body = records[0] if len(records) == 1 else {"instances": records}
    path.write_text(json.dumps(body) + "\n", encoding="utf-8")


def write_frame(frame: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = file_format(path)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
