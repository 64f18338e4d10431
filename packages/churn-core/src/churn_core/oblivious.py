"""CatBoost's symmetric (oblivious) trees written as an exact LightGBM text model.

An oblivious tree of depth d applies the same split at every node of a level, so it is a full
binary tree with 2^d leaves; leaf index bit i is 1 when split i goes right. Three details make
the copy exact rather than close:

- CatBoost compares ``float32(x) > border`` (border a float32); LightGBM compares the float64
  ``x <= threshold``. The threshold written is the largest float64 that rounds (to nearest,
  ties to even) to a float32 at or below the border, so both send every float64 the same way.
- Leaf values in CatBoost's JSON already carry the learning rate; the model's raw score is
  ``scale * Σ leaves + bias``, so leaves are multiplied by ``scale`` and the bias is added to the
  leaves of the first tree (every row reaches exactly one leaf of it).
- A split implied by an earlier split on the same feature is not written: its impossible branch
  is dropped, which changes no prediction and keeps the explainer's leaf table small.

Only numeric features are supported (no CatBoost categorical features, CTRs or text): training
passes the one-parent codes and flags of features.py, so explanations stay exact.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class ConversionError(ValueError):
    """A CatBoost model this converter cannot copy exactly (categorical splits, multiclass…)."""


def lightgbm_threshold(border: float) -> float:
    """Largest float64 t with float32(t) <= border: ``x <= t`` iff ``float32(x) <= border``."""
    low = np.float32(border)
    if float(low) != border or not np.isfinite(low):
        raise ConversionError(f"border {border!r} is not a finite float32")
    high = np.nextafter(low, np.float32(np.inf))
    if not np.isfinite(high):
        return float("inf")
    midpoint = (float(low) + float(high)) / 2  # exact in float64: 25 significant bits
    # A tie rounds to the neighbour with an even significand.
    ties_down = int(low.view(np.uint32)) % 2 == 0
    return midpoint if ties_down else float(np.nextafter(midpoint, -np.inf))


@dataclass
class _Tree:
    split_feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    leaf_value: list[float] = field(default_factory=list)

    def add_leaf(self, value: float) -> int:
        self.leaf_value.append(value)
        return ~(len(self.leaf_value) - 1)

    def build(
        self,
        splits: Sequence[tuple[int, float]],
        leaves: Sequence[float],
        level: int,
        index: int,
        bounds: dict[int, tuple[float, float]],
    ) -> int:
        """Node id (>= 0) or ~leaf for the subtree below ``level`` with leaf bits ``index``."""
        if level == len(splits):
            return self.add_leaf(leaves[index])
        feature, threshold = splits[level]
        lo, hi = bounds.get(feature, (-np.inf, np.inf))
        if hi <= threshold:  # every row here goes left
            return self.build(splits, leaves, level + 1, index, bounds)
        if lo >= threshold:  # every row here goes right
            return self.build(splits, leaves, level + 1, index | 1 << level, bounds)
        node = len(self.split_feature)
        self.split_feature.append(feature)
        self.threshold.append(threshold)
        self.left.append(0)
        self.right.append(0)
        self.left[node] = self.build(
            splits, leaves, level + 1, index, {**bounds, feature: (lo, threshold)}
        )
        self.right[node] = self.build(
            splits, leaves, level + 1, index | 1 << level, {**bounds, feature: (threshold, hi)}
        )
        return node

    def text(self, number: int) -> str:
        def join(values: Sequence[Any]) -> str:
            return " ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in values)

        inner = len(self.split_feature)
        lines = [
            f"Tree={number}",
            f"num_leaves={len(self.leaf_value)}",
            "num_cat=0",
            f"split_feature={join(self.split_feature)}",
            f"split_gain={join([0] * inner)}",
            f"threshold={join(self.threshold)}",
            # 2: numerical split, default_left, missing type None (NaN is scored as 0).
            f"decision_type={join([2] * inner)}",
            f"left_child={join(self.left)}",
            f"right_child={join(self.right)}",
            f"leaf_value={join(self.leaf_value)}",
            "is_linear=0",
            "shrinkage=1",
        ]
        return "\n".join(lines) + "\n\n\n"


def catboost_json(model: Any) -> dict[str, Any]:
    """A fitted CatBoost model's own JSON export (the lossless description of its trees)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.json"
        model.save_model(str(path), format="json")
        return json.loads(path.read_text(encoding="utf-8"))


def to_lightgbm_text(
    model: Any, feature_names: Sequence[str], feature_ranges: np.ndarray | None = None
) -> str:
    """LightGBM text model with the same raw scores as a fitted binary CatBoost model.

    ``feature_ranges`` (2 x features: min, max over the training rows) fills LightGBM's
    informational ``feature_infos``; it plays no part in prediction.
    """
    dump = catboost_json(model)
    info = dump["features_info"]
    if set(info) - {"float_features"} or dump.get("non_symmetric_trees"):
        raise ConversionError("only numeric features in symmetric trees can be converted")
    flat = [f["flat_feature_index"] for f in info.get("float_features", [])]
    if flat != [f["feature_index"] for f in info.get("float_features", [])]:
        raise ConversionError("feature indices are not one-to-one")
    scale, bias = dump["scale_and_bias"]
    bias = float(bias[0]) if isinstance(bias, list) else float(bias)
    if isinstance(dump["scale_and_bias"][1], list) and len(dump["scale_and_bias"][1]) != 1:
        raise ConversionError("only single-output (binary) models can be converted")

    trees: list[_Tree] = []
    for number, tree in enumerate(dump["oblivious_trees"]):
        splits = []
        for split in tree["splits"]:
            if split["split_type"] != "FloatFeature":
                raise ConversionError(f"unsupported split type {split['split_type']}")
            splits.append((int(split["float_feature_index"]), lightgbm_threshold(split["border"])))
        leaves = [scale * float(v) for v in tree["leaf_values"]]
        if len(leaves) != 1 << len(splits):
            raise ConversionError("leaf count is not 2^depth (more than one output?)")
        if number == 0:
            leaves = [v + bias for v in leaves]
        if not splits:  # a constant tree: fold it into the first tree's leaves
            if trees:
                trees[0].leaf_value = [v + leaves[0] for v in trees[0].leaf_value]
                continue
            bias_only = _Tree()
            bias_only.add_leaf(leaves[0])
            trees.append(bias_only)
            continue
        converted = _Tree()
        converted.build(splits, leaves, 0, 0, {})
        trees.append(converted)
    if not trees:
        raise ConversionError("the model has no trees")
    return _model_text(trees, feature_names, feature_ranges)


def _model_text(
    trees: Sequence[_Tree], feature_names: Sequence[str], feature_ranges: np.ndarray | None
) -> str:
    if feature_ranges is None:
        infos = ["none"] * len(feature_names)
    else:
        lows, highs = (map(float, row) for row in feature_ranges)
        infos = [f"[{lo!r}:{hi!r}]" for lo, hi in zip(lows, highs, strict=True)]
    texts = [tree.text(i) for i, tree in enumerate(trees)]
    header = [
        "tree",
        "version=v4",
        "num_class=1",
        "num_tree_per_iteration=1",
        "label_index=0",
        f"max_feature_idx={len(feature_names) - 1}",
        "objective=binary sigmoid:1",
        f"feature_names={' '.join(feature_names)}",
        f"feature_infos={' '.join(infos)}",
        f"tree_sizes={' '.join(str(len(t.encode())) for t in texts)}",
    ]
    return "\n".join(header) + "\n\n" + "".join(texts) + "end of trees\n"
