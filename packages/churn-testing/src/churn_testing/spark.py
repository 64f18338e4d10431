"""The one local SparkSession of a test session (``local[2]``, no UI), or why there is none.

Spark tests skip when pyspark or Java is missing, unless ``CHURN_REQUIRE_SPARK=1`` (set by
``.ci/run``): then a missing Spark is a failure, so CI cannot pass without running them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REQUIRE_ENV = "CHURN_REQUIRE_SPARK"
MASTER = "local[2]"  # the machine's two cores; never more


def unavailable() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (churn-core[spark])"
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and (Path(java_home) / "bin/java").exists()):
        return "no Java found (Debian: openjdk-17-jre-headless; .ci/system-deps installs it)"
    return None


def local_spark() -> Iterator[SparkSession]:
    """Start the session (PYSPARK_PYTHON = this venv's interpreter), yield it, stop its JVM."""
    reason = unavailable()
    if reason:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but: {reason}")
        pytest.skip(reason)
    from churn_core.spark import spark_session

    session = spark_session(MASTER, app_name="churn-tests", ui=False)
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
