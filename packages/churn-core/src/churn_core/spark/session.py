"""The SparkSession every churn-core Spark job and test uses."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Set by pyspark's PythonRunner when spark-submit launched this driver: then spark-submit's
# configuration (master, executors, …) is the cluster's and wins over any default here.
_SUBMITTED = "PYSPARK_GATEWAY_PORT"


def spark_session(
    master: str | None = None, app_name: str = "churn-core", ui: bool = True
) -> SparkSession:
    """A SparkSession for churn-core jobs: the existing one when spark-submit made it.

    ``master`` (e.g. ``local[2]``) is used when given; otherwise spark-submit's, or ``local[*]``
    when run as a plain command. Python workers run this interpreter unless PYSPARK_PYTHON says
    otherwise (another Python would fail on imports). Each task slot runs one LightGBM thread
    (OMP_NUM_THREADS=1): Spark already runs one Python worker per core, and more threads per
    worker would fight over the same cores. Arrow batches hold 100,000 rows.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif _SUBMITTED not in os.environ:
        builder = builder.master("local[*]")
    builder = builder.config("spark.executorEnv.OMP_NUM_THREADS", "1")
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    # Arrow batches of 100,000 rows, not 10,000: a Python worker's CPU per row for scoring
    # (conversions, validation, the Predictor's call) fell by a quarter (docs/spark.md).
    builder = builder.config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
    if not ui:  # tests and benchmarks: no web UI, no progress bars on stderr
        builder = builder.config("spark.ui.enabled", "false")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    return builder.getOrCreate()
