"""CatBoost symmetric trees copied into LightGBM text: the same probabilities, to the last bit."""

from __future__ import annotations

import json
import math

import lightgbm as lgb
import numpy as np
import pytest

from churn_core import Predictor
from churn_core.candidates import CATBOOST_PARAMS, CrossValidation, fit
from churn_core.cli import main
from churn_core.compiled_tables import compile_raw_score
from churn_core.data import columns_of, generate, load
from churn_core.explain import LeafTable
from churn_core.features import build_matrix, columns_from_records
from churn_core.oblivious import lightgbm_threshold
from churn_core.schema import LABEL, validate_customers
from churn_core.tree_tables import NotTabulable, TreeTables

EXACT = 1e-12


def test_threshold_sends_every_float64_where_catboosts_float32_comparison_does():
    rng = np.random.default_rng(3)
    borders = np.concatenate(
        [
            rng.normal(0, 1e5, 500).astype(np.float32),
            np.float32([0.5, 1.5, 2.5, -0.5, 0.0, 1e-3, 125_510.82, 39.5, 650.5]),
        ]
    )
    for border in borders:
        threshold = lightgbm_threshold(float(border))
        # The last float64 that goes left, and the first that goes right.
        assert np.float32(threshold) <= border
        assert np.float32(np.nextafter(threshold, np.inf)) > border
    # The cases that make the rounding matter: an odd float32 significand rounds ties up.
    odd = np.float32(1.0) + np.float32(2.0**-23)
    midpoint = (float(odd) + float(np.nextafter(odd, np.float32(2)))) / 2
    assert lightgbm_threshold(float(odd)) == np.nextafter(midpoint, -np.inf)
    assert lightgbm_threshold(1.0) == 1.0 + 2.0**-24  # even: the tie itself still goes left
    with pytest.raises(ValueError):
        lightgbm_threshold(0.1)  # not a float32: CatBoost never writes such a border


def _boundary_rows(model_text: str, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows on, just below and just above every threshold of the model (one feature each), and
    the thresholds."""
    dump = lgb.Booster(model_str=model_text).dump_model()
    splits = set()
    for tree in dump["tree_info"]:
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                splits.add((node["split_feature"], node["threshold"]))
                stack += [node["left_child"], node["right_child"]]
    rows = []
    for feature, threshold in sorted(splits):
        border = np.float32(threshold)
        above = np.nextafter(border, np.float32(np.inf))
        for value in (
            threshold,
            np.nextafter(threshold, np.inf),
            np.nextafter(threshold, -np.inf),
            float(border),
            float(above),
            (float(border) + float(above)) / 2,
        ):
            row = base.copy()
            row[feature] = value
            rows.append(row)
    return np.array(rows), np.array([threshold for _, threshold in splits])


@pytest.fixture(scope="module")
def converted():
    frame = generate(3_000, seed=5)
    train_part, holdout = frame.iloc[:2_400], frame.iloc[2_400:]
    x_train, y_train = build_matrix(columns_of(train_part)), train_part[LABEL].to_numpy()
    params = {k: CATBOOST_PARAMS[k] for k in ("depth", "learning_rate", "l2_leaf_reg")}
    chosen = CrossValidation("catboost", params, 150, np.empty(0), [])
    model = fit(chosen, x_train, y_train, seed=5)
    x_hold = build_matrix(columns_of(holdout))
    return model, x_train, x_hold, *_boundary_rows(model.text, x_hold[0])


def test_converted_booster_equals_catboost_on_training_holdout_and_boundary_rows(converted):
    model, x_train, x_hold, boundary, thresholds = converted
    booster = lgb.Booster(model_str=model.text)
    assert boundary.shape[0] > 100
    # Writing CatBoost's float32 border as the threshold would send these rows the wrong way.
    assert np.all(thresholds > thresholds.astype(np.float32))
    for rows in (x_train, x_hold, boundary):
        gap = np.max(np.abs(booster.predict(rows) - model.native_predict(rows)))
        assert gap <= EXACT, gap


def test_explainer_tree_walk_reads_the_converted_trees_exactly(converted):
    model, x_train, x_hold, boundary, _ = converted
    booster = lgb.Booster(model_str=model.text)
    leaves = LeafTable(booster.dump_model(), x_train.shape[1])
    # Implied splits are dropped: fewer leaves than 150 full depth-4 trees.
    assert leaves.value.size < 150 * 16
    for rows in (x_train[:500], x_hold, boundary):
        walked = leaves.raw_score(leaves.masks(rows))
        assert np.max(np.abs(walked - booster.predict(rows, raw_score=True))) <= 1e-9


def test_catboost_bundle_serves_and_explains_through_the_same_path(tmp_path, customers):
    from churn_core.training import train

    out = train(tmp_path / "m", rows=3_000, seed=3, quick=True, families=("catboost",))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["family"] == "catboost"
    assert manifest["model_version"].startswith("churn-catboost-")
    assert manifest["metrics"]["served_vs_trained_max_abs_diff"] <= EXACT
    predictor = Predictor.from_bundle(out)  # the load-time tree-walk check holds
    for p in predictor.predict(customers[:50], explain=True):
        total = p.base_value + sum(p.feature_contributions.values())
        assert abs(total - p.churn_probability) < 1e-9


def test_train_compares_families_and_repeats_over_split_seeds(tmp_path):
    out = tmp_path / "m"
    args = ["train", "--rows", "2000", "--quick", "--out", str(out), "--seed", "1"]
    assert main([*args, "--families", "lightgbm,catboost", "--split-seeds", "2"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    selection = manifest["selection"]
    assert set(selection["candidates"]) == {"lightgbm", "catboost"}
    cv_auc = {f: c["cv"]["roc_auc_mean"] for f, c in selection["candidates"].items()}
    assert selection["winner"] == max(cv_auc, key=cv_auc.get) == manifest["training"]["family"]
    assert selection["winner"] in selection["reason"]
    low, high = manifest["metrics"]["holdout"]["roc_auc_ci95"]
    assert low < manifest["metrics"]["holdout"]["roc_auc"] < high
    study = manifest["metrics"]["split_seeds"]
    assert study["seeds"] == [1, 2] and len(study["winners"]) == 2
    for family in ("lightgbm", "catboost"):
        holdout_auc = study["families"][family]["holdout_roc_auc"]
        assert len(holdout_auc["values"]) == 2 and holdout_auc["sd"] >= 0
    first = selection["candidates"]["catboost"]["holdout_reported_only"]["roc_auc"]
    assert study["families"]["catboost"]["holdout_roc_auc"]["values"][0] == first


def test_unknown_family_is_refused(tmp_path):
    assert main(["train", "--rows", "500", "--out", str(tmp_path), "--families", "xgboost"]) == 2


@pytest.mark.slow
def test_conversion_is_exact_on_the_real_data(real_data):
    frame = load(real_data, label=True)
    matrix, labels = build_matrix(columns_of(frame)), frame[LABEL].to_numpy()
    params = {k: CATBOOST_PARAMS[k] for k in ("depth", "learning_rate", "l2_leaf_reg")}
    model = fit(CrossValidation("catboost", params, 400, np.empty(0), []), matrix, labels, 42)
    boundary, _ = _boundary_rows(model.text, matrix[0])
    booster = lgb.Booster(model_str=model.text)
    for rows in (matrix, boundary):
        assert np.max(np.abs(booster.predict(rows) - model.native_predict(rows))) <= EXACT


def test_batch_tables_equal_the_booster_bit_for_bit(converted):
    model, x_train, x_hold, boundary, _ = converted
    booster = lgb.Booster(model_str=model.text)
    tables = TreeTables.for_booster(booster, booster.dump_model(), x_hold[:50])
    assert tables is not None and tables.n_trees == booster.num_trees()
    wide = generate(20_000, seed=11)
    for rows in (x_train, x_hold, boundary, build_matrix(columns_of(wide))):
        assert np.array_equal(tables.probabilities(rows), booster.predict(rows))
    assert tables.probabilities(x_hold[:0]).shape == (0,)


def _compiled_probabilities(tables: TreeTables, rows: np.ndarray) -> np.ndarray:
    raw_score = compile_raw_score(tables, rows.shape[1])
    assert raw_score is not None  # numba is installed with the workspace
    return np.array([1.0 / (1.0 + math.exp(-raw_score(tuple(row.tolist())))) for row in rows])


def test_compiled_tables_equal_the_booster_bit_for_bit(converted):
    model, x_train, x_hold, boundary, _ = converted
    booster = lgb.Booster(model_str=model.text)
    tables = TreeTables.for_booster(booster, booster.dump_model(), x_hold[:50])
    wide = build_matrix(columns_of(generate(20_000, seed=12)))
    for rows in (x_train, x_hold, boundary, wide):
        assert _compiled_probabilities(tables, rows).tobytes() == booster.predict(rows).tobytes()
    # LightGBM's own trees (not symmetric, up to 7 splits each) and trees without a split.
    frame = generate(3_000, seed=8)
    matrix, labels = build_matrix(columns_of(frame)), frame[LABEL].to_numpy()
    for params in (
        {"objective": "binary", "num_leaves": 8, "verbose": -1, "min_data_in_leaf": 5},
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 10_000},
    ):
        other = lgb.train(params, lgb.Dataset(matrix, labels), num_boost_round=40)
        other_tables = TreeTables.for_booster(other, other.dump_model(), matrix[:50])
        boundary, _ = _boundary_rows(other.model_to_string(), matrix[0])
        for rows in (matrix, boundary, wide) if boundary.size else (matrix, wide):
            ours = _compiled_probabilities(other_tables, rows)
            assert ours.tobytes() == other.predict(rows).tobytes()
    nan_row = x_hold[0].tolist()
    nan_row[0] = math.nan
    raw_score = compile_raw_score(tables, len(nan_row))
    assert raw_score is not None
    assert math.isnan(raw_score(tuple(nan_row)))  # the caller asks LightGBM
    with pytest.raises(TypeError):  # compiled for one row shape, never again on a request
        raw_score(tuple(nan_row[:-1]))


def test_batch_tables_refuse_what_they_cannot_reproduce(converted):
    model, _, x_hold, _, _ = converted
    booster = lgb.Booster(model_str=model.text)
    dump = booster.dump_model()
    dump["tree_info"][3]["tree_structure"]["left_child"]["left_child"] = {"leaf_value": 0.25}
    assert TreeTables.for_booster(booster, dump, x_hold) is None  # disagrees: booster kept
    regression = {**booster.dump_model(), "objective": "regression"}
    with pytest.raises(NotTabulable):
        TreeTables(regression)
    # A LightGBM model of 16-leaf trees has more distinct splits per tree than a table holds.
    frame = generate(2_000, seed=2)
    matrix, labels = build_matrix(columns_of(frame)), frame[LABEL].to_numpy()
    data = lgb.Dataset(matrix, labels)
    params = {"objective": "binary", "num_leaves": 31, "verbose": -1, "min_data_in_leaf": 5}
    deep = lgb.train(params, data, num_boost_round=5)
    assert TreeTables.for_booster(deep, deep.dump_model(), matrix[:10]) is None


def test_predictor_batches_through_tables_and_falls_back_on_nan(tmp_path, customers):
    from churn_core.training import train

    out = train(tmp_path / "m", rows=3_000, seed=3, quick=True, families=("catboost",))
    predictor = Predictor.from_bundle(out)
    assert predictor.tables is not None
    matrix = build_matrix(columns_of(generate(5_000, seed=4)))
    assert np.array_equal(predictor.predict_proba_matrix(matrix), predictor.booster.predict(matrix))
    batch = [p.churn_probability for p in predictor.predict(customers[:300])]
    alone = [predictor.predict([c])[0].churn_probability for c in customers[:300]]
    rows = build_matrix(columns_from_records(validate_customers(customers[:300])))
    assert batch == alone == predictor.booster.predict(rows).tolist()
    matrix[7, 0] = np.nan  # never from validated rows; LightGBM's own missing-value rule then
    assert np.array_equal(predictor.predict_proba_matrix(matrix), predictor.booster.predict(matrix))


def test_batch_tables_of_constant_trees():
    frame = generate(200, seed=6)
    matrix, labels = build_matrix(columns_of(frame)), np.zeros(200)
    labels[:100] = 1
    params = {"objective": "binary", "verbose": -1, "min_data_in_leaf": 1000}  # no split fits
    constant = lgb.train(params, lgb.Dataset(matrix, labels), num_boost_round=3)
    tables = TreeTables.for_booster(constant, constant.dump_model(), matrix)
    assert tables is not None
    assert np.array_equal(tables.probabilities(matrix), constant.predict(matrix))
