"""One small model bundle per test process, trained on the synthetic generator."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROWS = 3000
SEED = 7


@functools.cache
def quick_bundle(rows: int = ROWS, seed: int = SEED) -> Path:
    """A quick bundle trained once per process (per ``rows``/``seed``) into a temporary
    directory removed at exit; ``CHURN_TEST_BUNDLE`` names an existing bundle to use instead.

    A plain function as well as the ``bundle_dir`` fixture: a test module may need the bundle at
    collection time (schemathesis builds its schema from the app).
    """
    given = os.environ.get("CHURN_TEST_BUNDLE")
    if given:
        return Path(given)
    from churn_core.training import train

    root = Path(tempfile.mkdtemp(prefix="churn-test-bundle-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return train(root / "model", quick=True, rows=rows, seed=seed)


def given_or_quick(model_dir: Path | None) -> Path:
    """A benchmark's ``--model-dir``, or a quick bundle (trained with a note on stderr)."""
    if model_dir is not None:
        return Path(model_dir)
    print("training a quick bundle …", file=sys.stderr, flush=True)
    return quick_bundle()


def sagemaker_tarball(model_dir: Path, directory: Path) -> Path:
    """``model_dir`` packaged as the SageMaker model tarball ``directory/model.tar.gz``."""
    from sagemaker_handler.packaging import package_model

    tarball = Path(directory) / "model.tar.gz"
    package_model(model_dir, tarball)
    return tarball
