"""The pytest plugin (entry point ``pytest11``): fixtures every suite shares. A suite that
needs something else overrides the fixture of the same name in its conftest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from churn_testing.bundles import quick_bundle

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from churn_core import Predictor


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    """A quick bundle, trained once per test session."""
    return quick_bundle()


@pytest.fixture(scope="session")
def predictor(bundle_dir: Path) -> Predictor:
    """The library's Predictor on ``bundle_dir``: what every served answer is compared with."""
    from churn_core import Predictor

    return Predictor.from_bundle(bundle_dir)


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Two fresh P-256 key pairs, made per session and never committed: "trusted" signs the
    bundles, "other" is a signer no server trusts (``churn_testing.signing``)."""
    from churn_testing.signing import signing_key_pairs

    return signing_key_pairs(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local[2] SparkSession per test session (a JVM start costs ~15 s), stopped at the end;
    skipped without pyspark or Java unless CHURN_REQUIRE_SPARK=1 (``churn_testing.spark``)."""
    from churn_testing.spark import local_spark

    yield from local_spark()
