"""Batch prediction of trees with few distinct splits as lookup tables, equal to LightGBM's.

A tree whose internal nodes use at most ``MAX_SPLITS`` distinct (feature, threshold) pairs
sends a row to a leaf fixed by the outcomes of those splits alone. Every tree CatBoost grows is
one (an oblivious tree of depth d has d splits), so every tree of the default bundle is. Here
each such tree becomes a table of 2^k leaf values indexed by the k outcomes. A batch is then a
few array operations: one comparison per distinct split of the ensemble, a byte per tree and
row from those outcomes, one gather and one running sum. LightGBM walks nodes row by row and tree
by tree. Measured by ``benchmarks/core_bench.py``: see docs/FIGURES.md.

Why the probabilities are LightGBM's, bit for bit:

- the comparisons are LightGBM's own (``x <= threshold`` goes left) on the same float64 matrix;
  a matrix with NaN (which LightGBM may map to 0 or send by its default direction) is left to
  the booster;
- leaf values and thresholds come from the booster's JSON dump (17 significant digits, which
  parse back to the same doubles);
- the raw score is summed tree after tree from the first, as LightGBM's predictor does (a
  running sum, not numpy's pairwise summation);
- the probability is the same expression, ``1 / (1 + exp(-score))``, with the C library's
  ``exp`` through ``math.exp``: numpy's vectorised ``exp`` differs from it in the last bit for
  about 2 % of inputs on AVX-512 machines.

``TreeTables.for_booster`` checks all this at load on the caller's rows against
``Booster.predict`` and returns None when a model does not qualify (too many splits in a tree,
a categorical or zero-as-missing split, multiclass, any disagreement), so the caller keeps the
booster.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_SPLITS = 8  # a tree's outcomes index its table in one byte: 256 leaf values at most
_CHUNK_ROWS = 8_192  # bounds the (rows x splits) and (trees x rows) working arrays


def probability_of_score(score: float) -> float:
    """The binary objective's probability of a raw score, as LightGBM computes it (see above):
    the one expression the tables and the single-row path use."""
    return 1.0 / (1.0 + math.exp(-score))


class NotTabulable(ValueError):
    """A model these tables cannot reproduce exactly."""


def _tree_splits(node: dict[str, Any], found: dict[tuple[int, float], int]) -> None:
    if "leaf_value" in node:
        return
    if node.get("decision_type") != "<=" or node.get("missing_type") not in ("None", "NaN"):
        raise NotTabulable(f"unsupported split {node.get('decision_type')!r}")
    found.setdefault((int(node["split_feature"]), float(node["threshold"])), len(found))
    _tree_splits(node["left_child"], found)
    _tree_splits(node["right_child"], found)


def _fill(
    node: dict[str, Any],
    splits: dict[tuple[int, float], int],
    reach: np.ndarray,
    outcomes: np.ndarray,
    table: np.ndarray,
) -> None:
    """Write each leaf's value at every outcome pattern (table index) that reaches it."""
    if "leaf_value" in node:
        table[reach] = float(node["leaf_value"])
        return
    bit = outcomes[:, splits[(int(node["split_feature"]), float(node["threshold"]))]]
    _fill(node["left_child"], splits, reach & ~bit, outcomes, table)
    _fill(node["right_child"], splits, reach & bit, outcomes, table)


class TreeTables:
    """An ensemble's trees as tables indexed by their split outcomes (see the module doc)."""

    def __init__(self, dump: dict[str, Any]) -> None:
        if dump.get("num_class", 1) != 1 or dump.get("num_tree_per_iteration", 1) != 1:
            raise NotTabulable("only single-output models are tabulated")
        if not str(dump.get("objective", "")).startswith("binary"):
            raise NotTabulable("only the binary objective's sigmoid is reproduced")
        ensemble: dict[tuple[int, float], int] = {}
        tree_columns: list[list[int]] = []
        tables: list[np.ndarray] = []
        for tree in dump["tree_info"]:
            splits: dict[tuple[int, float], int] = {}
            _tree_splits(tree["tree_structure"], splits)
            if len(splits) > MAX_SPLITS:
                raise NotTabulable(f"a tree with {len(splits)} distinct splits")
            size = 1 << len(splits)
            outcomes = (np.arange(size)[:, None] >> np.arange(len(splits))) & 1 == 1
            table = np.full(size, np.nan)
            _fill(tree["tree_structure"], splits, np.ones(size, bool), outcomes, table)
            # Outcome patterns no row can produce (x > 3 and not x > 2) keep NaN: never read.
            tables.append(table)
            tree_columns.append([ensemble.setdefault(split, len(ensemble)) for split in splits])
        if not tables:
            raise NotTabulable("the model has no trees")
        never = len(ensemble)  # a row of outcomes that is always 0 pads short trees
        self.split_feature = np.array([f for f, _ in ensemble], dtype=np.intp)
        self.split_threshold = np.array([t for _, t in ensemble], dtype=np.float64)[:, None]
        self.depth = max(1, *(len(columns) for columns in tree_columns))  # 1: all constant
        # (levels, trees): the outcome row each tree reads at each level.
        self.level_rows = np.array(
            [columns + [never] * (self.depth - len(columns)) for columns in tree_columns],
            dtype=np.intp,
        ).T.copy()
        sizes = np.array([t.size for t in tables])
        self.table_offset = (np.cumsum(sizes) - sizes)[:, None]
        self.values = np.concatenate(tables)
        self.n_trees = len(tables)

    @classmethod
    def for_booster(cls, booster: Any, dump: dict[str, Any], rows: np.ndarray) -> TreeTables | None:
        """Tables for ``booster`` if they qualify and reproduce ``Booster.predict`` on ``rows``
        exactly; None otherwise (the caller keeps the booster)."""
        best = getattr(booster, "best_iteration", -1)
        if best > 0 and best != booster.num_trees():
            return None  # Booster.predict would stop early; keep one way to choose trees
        try:
            tables = cls(dump)
            expected = booster.predict(rows, num_threads=1)
            agrees = np.array_equal(tables.probabilities(rows), expected)
        except (NotTabulable, KeyError, TypeError, IndexError):
            # A dump these tables do not understand costs speed, never the bundle.
            return None
        return tables if agrees else None

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds) of a float64 model matrix without NaN."""
        out = np.empty(matrix.shape[0])
        for start in range(0, matrix.shape[0], _CHUNK_ROWS):
            out[start : start + _CHUNK_ROWS] = self._raw_chunk(matrix[start : start + _CHUNK_ROWS])
        return out

    def _raw_chunk(self, matrix: np.ndarray) -> np.ndarray:
        features = np.ascontiguousarray(matrix.T)  # (features, rows): rows gathered, not columns
        outcomes = np.zeros((self.split_feature.size + 1, matrix.shape[0]), dtype=np.uint8)
        np.greater(features[self.split_feature], self.split_threshold, out=outcomes[:-1].view(bool))
        index = outcomes[self.level_rows[0]]  # (trees, rows): each tree's leaf-table index
        for level in range(1, self.depth):
            index |= outcomes[self.level_rows[level]] << level
        leaves = self.values[self.table_offset + index]
        # Tree after tree, as LightGBM adds them (numpy's sum would pair them up differently).
        score = leaves[0].copy()
        for tree_leaves in leaves[1:]:
            score += tree_leaves
        return score

    def probability_list(self, matrix: np.ndarray) -> list[float]:
        """``Booster.predict`` of a model matrix without NaN, bit for bit, as Python floats."""
        return list(map(probability_of_score, self.raw_scores(matrix).tolist()))

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """The same as a numpy array."""
        return np.array(self.probability_list(matrix))
