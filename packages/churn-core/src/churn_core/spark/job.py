"""``churn-core score|drift --engine spark``, and the same as a spark-submit entry point:

    spark-submit …/site-packages/churn_core/spark/job.py score --model-dir DIR --data IN --out OUT

(the arguments of ``churn-core score`` / ``churn-core drift``; ``--engine spark`` is implied).

The session is spark-submit's when it launched the driver (its master and executors), else a
local one (``--master``, default ``local[*]``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from churn_core.console import stderr_console


def score(args: argparse.Namespace) -> int:
    """Score ``--data`` into ``--out``; rejected rows (identifier and every bad field) go to
    ``--errors``. Exit 2 when any row was rejected, as the single process does."""
    from churn_core.spark.io import read_frame, write_frame
    from churn_core.spark.scoring import score_frame
    from churn_core.spark.session import spark_session

    spark = spark_session(args.master, app_name="churn-core-score")
    started = time.perf_counter()
    out = score_frame(read_frame(spark, str(args.data)), str(args.model_dir))
    write_frame(out.scored, str(args.out))  # the one scoring pass, counted on the way
    counts = out.counts.get
    rows, rejected = counts["rows"], counts["rejected"]
    if args.errors and rejected:
        write_frame(out.rejected, str(args.errors))
    seconds = time.perf_counter() - started
    console = stderr_console()
    console.print(
        f"scored {rows - rejected} of {rows} rows into {args.out} in {seconds:.1f} s "
        f"({rows / max(seconds, 1e-9):,.0f} rows/s); rejected {rejected}"
        + (f" (in {args.errors})" if args.errors and rejected else "")
    )
    return 2 if rejected else 0


def _within(frame: Any, since: str | None, until: str | None) -> Any:
    from pyspark.sql import functions as F

    if not (since or until) or "timestamp" not in frame.columns:
        return frame
    stamp = F.to_timestamp("timestamp")
    if since:
        frame = frame.where(stamp >= F.to_timestamp(F.lit(since)))
    if until:
        frame = frame.where(stamp < F.to_timestamp(F.lit(until)))
    return frame


def drift(args: argparse.Namespace) -> dict[str, Any]:
    """The drift report of ``--current`` (read by Spark) against ``--reference`` (a bundle
    directory or a file on the driver)."""
    from churn_core import drift as single
    from churn_core.spark.drift import spark_compare
    from churn_core.spark.io import read_frame
    from churn_core.spark.session import spark_session

    reference = single.read_reference(args.reference)
    spark = spark_session(args.master, app_name="churn-core-drift")
    current = _within(read_frame(spark, str(args.current)), args.since, args.until)
    thresholds = single.Thresholds(
        psi=args.psi_threshold, p_value=args.p_threshold, min_rows=args.min_rows
    )
    return spark_compare(
        reference, current, thresholds, sources=(str(args.reference), str(args.current))
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``churn-core`` with ``--engine spark`` added after the command."""
    from churn_core.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        return cli_main(["--help"])
    return cli_main([args[0], "--engine", "spark", *args[1:]])


if __name__ == "__main__":
    sys.exit(main())
