"""Keep libraries that LightGBM imports opportunistically out of the serving process.

lightgbm's compat layer imports pandas, scikit-learn, dask, pyarrow, … whenever they are
installed (in the dev workspace they are, for training and the benchmark baseline). The
serving path needs none of them: marking them absent saves about 1.5 s of start-up and ~100 MB,
and proves per-request code cannot reach them. The container image does not install them.
"""

from __future__ import annotations

import sys

OPTIONAL_LIBRARIES = (
    "pandas",
    "sklearn",
    "dask",
    "pyarrow",
    "matplotlib",
    "graphviz",
    "datatable",
    "shap",
    "evidently",
)


def keep_optional_libraries_out() -> None:
    """Call before anything imports lightgbm; libraries already imported stay as they are."""
    for name in OPTIONAL_LIBRARIES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
