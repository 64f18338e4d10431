"""Exact interventional TreeSHAP for the LightGBM model, in probability units, in numpy.

For one customer x and one background customer b, the game v(S) = F(x on S, b elsewhere) of a
tree ensemble splits over leaves. A leaf is reached by the hybrid iff, for every feature on its
path, the feature comes from a row that satisfies that feature's splits. Let A be the features
only x satisfies and B those only b satisfies (a leaf neither row can reach through some feature
contributes nothing). The leaf is reached iff A ⊆ S and S ∩ B = ∅, whose Shapley values are
    i ∈ A: +value · (|A|-1)! |B|! / (|A|+|B|)!      i ∈ B: -value · |A)! (|B|-1)! / (|A|+|B|)!
Summed over leaves that gives the exact log-odds Shapley values against b; scaling them by the
secant slope (σ(F(x)) - σ(F(b))) / (F(x) - F(b)) puts them in probability units with the sum
σ(F(x)) - σ(F(b)), and the mean over the background gives contributions that add up exactly to
p(x) - mean_b p(b) = p(x) - base_value. Features are encoded as bits of an integer per leaf.
"""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

from churn_core.features import MODEL_FEATURES
from churn_core.schema import FEATURE_NAMES


class ExplanationError(RuntimeError):
    """An explanation that cannot be computed: never replaced by made-up contributions."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class LeafTable:
    """Every leaf of the ensemble as per-feature intervals (lo, hi] and its value."""

    def __init__(self, dump: dict[str, Any], n_features: int):
        if n_features > 30:
            raise ExplanationError("explanations support at most 30 model features")
        lows: list[np.ndarray] = []
        highs: list[np.ndarray] = []
        values: list[float] = []
        for tree in dump["tree_info"]:
            self._walk(tree["tree_structure"], n_features, lows, highs, values)
        self.lo = np.array(lows)
        self.hi = np.array(highs)
        self._lo_by_feature = np.ascontiguousarray(self.lo.T)
        self._hi_by_feature = np.ascontiguousarray(self.hi.T)
        self.value = np.array(values)
        self.n_features = n_features

    @staticmethod
    def _walk(node, n_features, lows, highs, values) -> None:
        stack = [(node, np.full(n_features, -np.inf), np.full(n_features, np.inf))]
        while stack:
            node, lo, hi = stack.pop()
            if "leaf_value" in node:
                lows.append(lo)
                highs.append(hi)
                values.append(node["leaf_value"])
                continue
            if node.get("decision_type") != "<=" or node.get("missing_type") not in ("None", "NaN"):
                raise ExplanationError(f"unsupported split {node.get('decision_type')!r}")
            j, threshold = node["split_feature"], node["threshold"]
            left_hi, right_lo = hi.copy(), lo.copy()
            left_hi[j] = min(hi[j], threshold)
            right_lo[j] = max(lo[j], threshold)
            stack.append((node["left_child"], lo, left_hi))
            stack.append((node["right_child"], right_lo, hi))

    def masks(self, x: np.ndarray) -> np.ndarray:
        """(rows, leaves) int64: bit j set where row satisfies the leaf's interval on feature j."""
        # Feature-major bounds: each comparison runs along all leaves at once (~35 % faster
        # than along a row's 14 features), and the bit sums are exact in float64.
        lo, hi = self._lo_by_feature, self._hi_by_feature
        bits = np.ldexp(1.0, np.arange(self.n_features))
        out = np.empty((x.shape[0], self.value.size), dtype=np.int64)
        for r in range(x.shape[0]):
            column = x[r][:, None]
            inside = column > lo
            inside &= column <= hi
            out[r] = bits @ inside
        return out

    def raw_score(self, masks: np.ndarray) -> np.ndarray:
        full = (1 << self.n_features) - 1
        # A row-wise sum, not a BLAS product: the same bits for a row alone or in any batch.
        return np.where(masks == full, self.value, 0.0).sum(axis=1)


def _member_bytes(member_row: np.ndarray, item_count: np.ndarray, n_rows: int) -> np.ndarray:
    """(items, ⌈n_rows/8⌉) indices into ``_subset_sums``' flat table: byte g of an item says
    which of background rows 8g…8g+7 are its members."""
    n_groups = -(-n_rows // 8)
    item_of = np.repeat(np.arange(item_count.size), item_count)
    codes = np.zeros((item_count.size, n_groups), dtype=np.intp)
    np.bitwise_or.at(codes, (item_of, member_row // 8), 1 << (member_row % 8))
    return codes + 256 * np.arange(n_groups)


def _subset_sums(values: np.ndarray) -> np.ndarray:
    """(⌈n/8⌉, 256): entry [g, m] is the sum of values 8g+j over the bits j set in m.

    Summing a member set through these tables costs one lookup per byte; gathering the
    members one by one cost ~0.45 ms per explained customer with the real-data model (60,000
    member rows of the items a customer can reach)."""
    padded = np.zeros(-(-values.size // 8) * 8)
    padded[: values.size] = values
    by_group = padded.reshape(-1, 8)
    sums = np.zeros((by_group.shape[0], 1))
    for bit in range(8):
        sums = np.concatenate([sums, sums + by_group[:, bit : bit + 1]], axis=1)
    return sums


def _weight_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    w_a = np.zeros((n + 1, n + 1))
    w_b = np.zeros((n + 1, n + 1))
    for a in range(n + 1):
        for b in range(n + 1):
            if a:
                w_a[a, b] = 1.0 / (a * comb(a + b, a))
            if b:
                w_b[a, b] = 1.0 / (b * comb(a + b, b))
    return w_a.ravel(), w_b.ravel()


class TreeExplainer:
    """Contributions over the raw features, in probability units, against a fixed background.

    Background rows that satisfy the same features of a leaf behave alike at that leaf, so the
    background is grouped per leaf into "items" (leaf, mask, member rows) once, at load: for a
    customer only the items some hybrid can reach are visited, with their members' weights summed.
    """

    def __init__(self, dump: dict[str, Any], background: np.ndarray):
        n_features = background.shape[1]
        self.leaves = LeafTable(dump, n_features)
        bg_masks = self.leaves.masks(background)
        self.bg_score = self.leaves.raw_score(bg_masks)
        self.bg_prob = _sigmoid(self.bg_score)
        self.base_value = float(self.bg_prob.mean())
        self.n_background = background.shape[0]
        self.full = (1 << n_features) - 1
        self.width = n_features + 1
        self.w_a, self.w_b = _weight_tables(n_features)
        subsets = np.arange(1 << n_features)[:, None]
        self.bits = ((subsets >> np.arange(n_features)) & 1).astype(np.float64)
        self._group_background(bg_masks)

    def _group_background(self, bg_masks: np.ndarray) -> None:
        n_bg, n_leaves = bg_masks.shape
        leaf_of = np.broadcast_to(np.arange(n_leaves), bg_masks.shape).ravel()
        row_of = np.broadcast_to(np.arange(n_bg)[:, None], bg_masks.shape).ravel()
        order = np.lexsort((row_of, bg_masks.ravel(), leaf_of))
        leaf_sorted, mask_sorted = leaf_of[order], bg_masks.ravel()[order]
        new_item = np.ones(order.size, dtype=bool)
        new_item[1:] = (leaf_sorted[1:] != leaf_sorted[:-1]) | (mask_sorted[1:] != mask_sorted[:-1])
        self.item_start = np.flatnonzero(new_item)
        item_count = np.diff(np.append(self.item_start, order.size))
        self.item_leaf = leaf_sorted[self.item_start]
        self.item_mask = mask_sorted[self.item_start]
        self.item_value = self.leaves.value[self.item_leaf]
        # Items share member sets (the real-data model: 24,045 items, 1,836 sets): each set's
        # weight is summed once per customer, then read by its items.
        member_bytes = _member_bytes(row_of[order], item_count, n_bg)
        sets, self.item_set = np.unique(member_bytes, axis=0, return_inverse=True)
        self.item_set = self.item_set.ravel()
        self.set_members = np.ascontiguousarray(sets.T)  # (bytes, sets)

    def shap_values(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(contributions over raw features (rows x 10), probabilities) for a model matrix."""
        x_masks = self.leaves.masks(x)
        score = self.leaves.raw_score(x_masks)
        prob = _sigmoid(score)
        model_phi = np.stack(
            [self._one(x_masks[r], score[r], prob[r]) for r in range(x.shape[0])]
        ).reshape(x.shape[0], -1)
        phi = np.zeros((x.shape[0], len(FEATURE_NAMES)))
        for i, feature in enumerate(MODEL_FEATURES):  # element-wise: no BLAS summation order
            for parent in feature.parents:
                phi[:, FEATURE_NAMES.index(parent)] += model_phi[:, i] / len(feature.parents)
        if not np.all(np.isfinite(phi)):
            raise ExplanationError("non-finite contribution")
        return phi, prob

    def _one(self, x_mask: np.ndarray, score: float, prob: float) -> np.ndarray:
        sx = x_mask[self.item_leaf]
        sb = self.item_mask
        # Items some hybrid reaches, minus those both rows reach (they contribute nothing).
        useful = np.flatnonzero(((sx | sb) == self.full) & ((sx & sb) != self.full))
        sx, sb = sx[useful], sb[useful]
        only_x, only_b = sx & ~sb, sb & ~sx
        cell = np.bitwise_count(only_x).astype(np.int64) * self.width + np.bitwise_count(only_b)
        # Secant slope per background row: log-odds Shapley values → probability units.
        diff = score - self.bg_score
        same = np.abs(diff) < 1e-12
        secant = np.where(
            same, prob * (1 - prob), (prob - self.bg_prob) / np.where(same, 1.0, diff)
        )
        # Σ secant over each member set: one subset-sum lookup per byte of members.
        set_weight = _subset_sums(secant).ravel()[self.set_members].sum(axis=0)
        weight = set_weight[self.item_set[useful]]
        scale = self.item_value[useful] * weight / self.n_background
        size = 1 << self.leaves.n_features
        totals = np.bincount(only_x, weights=scale * self.w_a[cell], minlength=size) - np.bincount(
            only_b, weights=scale * self.w_b[cell], minlength=size
        )
        return totals @ self.bits
