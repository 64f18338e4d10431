"""One feature row through the tree tables, compiled with numba (the ``compiled`` extra).

Every ``POST /predict`` scores one customer. LightGBM's single-row C API took ~9 µs of that on
the real-data bundle (222 trees; in process, varied customers; a quarter of the request's own
CPU by py-spy): beside walking the trees it copies the row into a sparse vector and back, and
each node's branch depends on the row, so the CPU mispredicts about half of them. The tables of
``churn_core.tree_tables`` need no branches: one comparison per distinct split of the ensemble,
then per tree an index built from its splits' outcomes and one leaf value. numpy does that for a
batch; for one row its per-call costs would eat the gain, so this module compiles the same steps
for one row with numba, once per model (~2 s with numba's import, which servers spend in the
background once they answer: ``Predictor.compile_single_row``). ~2 µs a row.

The score is LightGBM's, bit for bit, for the reasons the tables' are (see tree_tables): the
same comparisons (``x > threshold`` goes right) on the same float64 row, leaf values and
thresholds from the booster's dump, the leaves added tree after tree to 0.0 as LightGBM's
predictor does, and the probability from the same expression with the C library's ``exp``.
``SingleRowModel`` still checks the compiled function against ``Booster.predict`` at load and
keeps LightGBM's C API when numba is missing, a model has no tables, or anything disagrees.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from churn_core.tree_tables import TreeTables

RawScore = Callable[[tuple[float, ...]], float]


def compile_raw_score(tables: TreeTables, n_features: int) -> RawScore | None:
    """The raw score (log-odds) of one model row (a tuple of ``n_features`` floats), NaN when
    a split reads a NaN (the caller leaves such rows to LightGBM); None when numba is not
    installed.

    The row is a tuple, not an array: numba checks a tuple of floats for its one signature in
    ~0.1 µs, where building a numpy array from the row's list took ~0.6 µs of a ~2 µs call and
    more under load (py-spy). The signature is given, so it is compiled here, once, and a row of
    another shape is refused (TypeError) rather than compiled again on a request."""
    try:
        import numba
    except ImportError:
        return None
    # Closure variables are frozen into the compiled code: one argument to pass per call.
    split_feature = tables.split_feature.astype(np.int64)
    split_threshold = np.ascontiguousarray(tables.split_threshold[:, 0])
    level_rows = tables.level_rows.astype(np.int64)
    table_offset = np.ascontiguousarray(tables.table_offset[:, 0]).astype(np.int64)
    values = tables.values.copy()
    n_splits, n_trees, depth = split_feature.size, tables.n_trees, tables.depth

    signature = numba.float64(numba.types.UniTuple(numba.float64, n_features))

    @numba.njit(signature, cache=False)
    def raw_score(features: tuple[float, ...]) -> float:  # pragma: no cover - machine code
        row = np.empty(n_features)
        for feature in range(n_features):
            row[feature] = features[feature]
        outcomes = np.zeros(n_splits + 1, np.int64)  # the last one, always 0, pads short trees
        for split in range(n_splits):
            value = row[split_feature[split]]
            if value != value:
                return np.nan
            if value > split_threshold[split]:
                outcomes[split] = 1
        score = 0.0
        for tree in range(n_trees):
            index = 0
            for level in range(depth):
                index |= outcomes[level_rows[level, tree]] << level
            score += values[table_offset[tree] + index]
        return score

    return raw_score  # type: ignore[no-any-return]
