"""Where drift's rows come from: capture directories and data files (current traffic), a
reference file or the training sample stored in a bundle."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from churn_core.bundle import REFERENCE_FILE, read_verified
from churn_core.capture import read_capture_lines
from churn_core.data import DataValidationError, file_format, read_file
from churn_core.signing import check_bundle

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

# *.json and *.json.gz: BigQuery's newline-delimited JSON export shards (Vertex AI's logs).
FILE_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.json", "*.json.gz", "*.csv", "*.parquet")


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist")
    found = sorted({p for pattern in FILE_PATTERNS for p in path.rglob(pattern) if p.is_file()})
    if not found:
        raise DataValidationError(
            [{"row": None, "field": "(directory)", "value": str(path), "check": "files"}],
            f"no capture or data files under {path}",
        )
    return found


def read_current(
    path: str | Path, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Rows of a file or of every capture file under a directory, within [since, until).

    ``frame.attrs["torn_lines"]`` counts capture lines cut short by a crash or a full disk,
    skipped (the report shows it under data_quality)."""
    import pandas as pd

    files = _files(Path(path))
    if since:
        # A file last written before `since` holds no record from `since` on: skip it unread,
        # so a daily job does not parse the whole capture history.
        files = [f for f in files if f.stat().st_mtime >= since.timestamp()]
    frames = []
    torn = 0
    for file in files:
        if file_format(file) == "jsonl":
            rows, torn_here = read_capture_lines(file)
            if torn_here:
                logger.warning("%s: skipped a torn last line (a record cut short)", file)
            torn += torn_here
            frames.append(pd.DataFrame(rows))
        else:
            frames.append(read_file(file))
    # One file (a Parquet export, say) is taken as read: concatenating would copy every column.
    if len(frames) == 1:
        frame = frames[0]
    else:
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame.attrs["torn_lines"] = torn
    if (since or until) and "timestamp" in frame.columns:
        stamps = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
        keep = np.ones(len(frame), dtype=bool)
        if since:
            keep &= (stamps >= pd.Timestamp(since)).to_numpy()
        if until:
            keep &= (stamps < pd.Timestamp(until)).to_numpy()
        frame = frame[keep].reset_index(drop=True)
        frame.attrs["torn_lines"] = torn
    return frame


def read_reference(path: str | Path) -> pd.DataFrame:
    """A reference file, or the training sample stored in a bundle directory."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        check_bundle(path)  # the trust policy (CHURN_TRUSTED_PUBLIC_KEYS), as for serving
        root, _ = read_verified(path)
        return pd.read_csv(root / REFERENCE_FILE)
    return read_file(path)
