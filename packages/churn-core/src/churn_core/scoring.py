"""Batch scoring of files in chunks, in bounded memory; bad rows are reported, never dropped."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_core.data import columns_of, file_format, iter_chunks, split_valid
from churn_core.schema import RISK_THRESHOLDS

if TYPE_CHECKING:
    import pandas as pd

    from churn_core.predictor import Predictor


@dataclass
class ScoreReport:
    rows: int = 0
    scored: int = 0
    invalid_rows: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)


def risk_levels(probabilities: np.ndarray) -> np.ndarray:
    uppers = [upper for upper, _ in RISK_THRESHOLDS]
    levels = np.array([level for _, level in RISK_THRESHOLDS] + ["HIGH"])
    return levels[np.searchsorted(uppers, probabilities, side="right")]


def count_rows(path: Path) -> int | None:
    fmt = file_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix == ".gz":
        return None
    with path.open("rb") as handle:
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    return lines - 1 if fmt == "csv" else lines


class _Writer:
    def __init__(self, path: Path):
        self.path, self.fmt, self.parquet, self.first = path, file_format(path), None, True
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            frame.to_csv(self.path, mode="a", header=self.first, index=False)
        elif self.fmt == "jsonl":
            with self.path.open("a", encoding="utf-8") as handle:
                frame.to_json(handle, orient="records", lines=True)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.path, table.schema)
            self.parquet.write_table(table)
        self.first = False

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()


def score_file(
    predictor: Predictor,
    data: str | Path,
    out: str | Path,
    errors_out: str | Path | None = None,
    chunk_rows: int = 100_000,
    on_chunk: Callable[[int], None] = lambda rows: None,
) -> ScoreReport:
    """Score ``data`` into ``out`` (CSV/Parquet/JSON-lines by extension), chunk by chunk.

    Invalid rows are not scored; each failure (1-based data row, field, value) is returned and,
    with ``errors_out``, written there as JSON lines.
    """
    report = ScoreReport()
    writer = _Writer(Path(out))
    with ExitStack() as stack:
        stack.callback(writer.close)
        errors = stack.enter_context(Path(errors_out).open("w")) if errors_out else None
        for chunk in iter_chunks(data, chunk_rows):
            valid, failures = split_valid(chunk, first_row=report.rows + 1)
            probabilities = predictor.predict_proba(columns_of(valid))
            scored = valid.assign(
                churn_probability=probabilities,
                churn_prediction=(probabilities >= predictor.threshold).astype(np.int64),
                risk_level=risk_levels(probabilities),
            )
            writer.write(scored)
            report.rows += len(chunk)
            report.scored += len(valid)
            report.invalid_rows += len(chunk) - len(valid)
            report.failures.extend(failures)
            if errors:
                for failure in failures:
                    errors.write(json.dumps(failure, default=str) + "\n")
            on_chunk(len(chunk))
    return report
