"""The single-row path answers exactly as the batch path: features, probabilities, refusals."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churn_core import InvalidCustomerError, Predictor
from churn_core.data import columns_of, generate
from churn_core.features import (
    MODEL_FEATURE_NAMES,
    build_matrix,
    columns_from_records,
    row_features,
)
from churn_core.schema import CATEGORICAL, FEATURE_NAMES, FEATURES, validate_customers
from churn_core.single_row import SingleRowModel, plain_row
from churn_core.tree_tables import TreeTables
from churn_testing.strategies import customers_strategy


def _boundary_customers() -> list[dict]:
    """Every band edge, flag and category, and both integer spellings (40 and 40.0)."""
    base = {
        "CreditScore": 300,
        "Geography": "France",
        "Gender": "Female",
        "Age": 18,
        "Tenure": 0,
        "Balance": 0.0,
        "NumOfProducts": 1,
        "HasCrCard": 0,
        "IsActiveMember": 0,
        "EstimatedSalary": 0.0,
    }
    out = []
    for age in (18, 29, 30, 39, 40, 44, 45, 49, 50, 54, 55, 60, 61, 100, 44.0, 45.0):
        out.append({**base, "Age": age})
    for balance in (0, 0.0, 5e-324, 1e-9, 1.0, 250_898.09, 1e15):
        out.append({**base, "Balance": balance})
    for products in (1, 2, 3, 4, 3.0):
        out.append({**base, "NumOfProducts": products})
    for name, categories in CATEGORICAL.items():
        out += [{**base, name: c} for c in categories]
    out += [{**base, "CreditScore": 900, "Tenure": 10, "HasCrCard": 1, "IsActiveMember": 1.0}]
    return out


def _in_a_batch(predictor: Predictor, row: dict, explain: bool = False) -> list:
    """The batch path's answer for ``row`` (placed between two others), as a one-item list."""
    others = validate_customers(_boundary_customers()[:2])
    return predictor.predict_valid([others[0], row, others[1]], explain)[1:2]


def test_row_features_equal_build_matrix_bit_for_bit():
    customers = generate(2_000, seed=5)[list(FEATURE_NAMES)].to_dict(orient="records")
    customers += _boundary_customers()
    rows = validate_customers(customers)
    expected = build_matrix(columns_from_records(rows))
    ours = np.array([row_features(c) for c in customers])  # raw, unvalidated spellings too
    assert ours.tobytes() == expected.tobytes()
    plain = [plain_row(c) for c in customers]  # the one-pass reading of plainly valid ones
    assert all(row is not None for row in plain)
    assert np.array(plain).tobytes() == expected.tobytes()


@pytest.mark.parametrize("engine", ["compiled", "c-api"])
def test_single_row_probabilities_equal_the_batch_prediction(predictor: Predictor, engine):
    frame = generate(5_000, seed=23)
    matrix = build_matrix(columns_of(frame))
    boundary = build_matrix(columns_from_records(validate_customers(_boundary_customers())))
    matrix = np.vstack([matrix, boundary])
    expected = predictor.booster.predict(matrix)  # the booster's own batch call, all threads
    model = SingleRowModel(predictor.booster)
    assert model.engine == "c-api"
    if engine == "compiled":
        assert model.compile(predictor.tables)
    assert model.engine == engine
    ours = np.array([model.probability(list(row)) for row in matrix])
    assert ours.tobytes() == expected.tobytes()
    # a row spelled with Python ints where its values are whole: the same answers
    spelled = [[int(x) if x.is_integer() else float(x) for x in row] for row in matrix[:200]]
    assert [model.probability(row) for row in spelled] == expected[:200].tolist()


def test_the_single_row_path_is_compiled_on_request(bundle_dir, customers, monkeypatch):
    predictor = Predictor.from_bundle(bundle_dir)
    predictor.warm_up()
    assert predictor.single_row.engine == "c-api"  # loading and warming compile nothing
    before = predictor.predict(customers[:20])
    alone = [predictor.predict([c])[0] for c in customers[:20]]
    monkeypatch.setenv("CHURN_COMPILE_SINGLE_ROW", "off")  # the operator's switch
    assert not predictor.compile_single_row()
    assert predictor.single_row.engine == "c-api"
    monkeypatch.delenv("CHURN_COMPILE_SINGLE_ROW")
    predictor.compile_in_background().join(60)
    assert predictor.single_row.engine == "compiled"
    assert [predictor.predict([c])[0] for c in customers[:20]] == alone == before


def test_compiled_tables_that_disagree_are_not_used(predictor: Predictor, customers):
    dump = predictor.booster.dump_model()
    nodes = [dump["tree_info"][0]["tree_structure"]]
    while nodes:  # another model's tables: every leaf of the first tree moved
        node = nodes.pop()
        if "leaf_value" in node:
            node["leaf_value"] += 0.5
        else:
            nodes += [node["left_child"], node["right_child"]]
    model = SingleRowModel(predictor.booster)
    assert not model.compile(TreeTables(dump))
    assert not model.compile(None)
    assert model.engine == "c-api"


def test_a_row_with_nan_is_left_to_lightgbm(predictor: Predictor, customers):
    model = SingleRowModel(predictor.booster)
    assert model.compile(predictor.tables)
    for column in range(len(MODEL_FEATURE_NAMES)):
        row = row_features(customers[column])
        row[column] = math.nan  # never from a validated customer; LightGBM's missing-value rule
        expected = predictor.booster.predict(np.array([row]))[0]
        assert model.probability(row) == expected


def test_predict_of_one_customer_equals_its_row_in_a_batch(predictor: Predictor, customers):
    batch = predictor.predict(customers[:300] + _boundary_customers())
    singles = [predictor.predict([c])[0] for c in customers[:300] + _boundary_customers()]
    assert singles == batch


def test_the_booster_wrapper_fallback_gives_the_same_answer(predictor: Predictor, customers):
    fallback = SingleRowModel(predictor.booster)
    fallback.close()  # what happens when the C call is missing or disagrees at load
    assert fallback.engine == "booster"
    rows = [row_features(c) for c in customers[:50]]
    assert [fallback.probability(r) for r in rows] == [
        predictor.single_row.probability(r) for r in rows
    ]


_BAD_VALUES = [
    None, True, False, "1", "France", 1.5, -1, -0.5, math.nan, math.inf, -math.inf, 2**60,
    -(2**60), 10**400, [], {}, np.int64(5), np.float64(5.0), 1e308, 899.5, 901, 299,
]  # fmt: skip


@pytest.mark.parametrize("spec", FEATURES, ids=lambda s: s.name)
def test_refusals_are_pydantics_for_every_odd_value(predictor: Predictor, customers, spec):
    for value in _BAD_VALUES:
        customer = {**customers[0], spec.name: value}
        try:
            expected = validate_customers([customer])
        except InvalidCustomerError as error:
            assert plain_row(customer) is None, (spec.name, value)
            with pytest.raises(InvalidCustomerError) as ours:
                predictor.predict([customer])
            assert ours.value.errors == error.errors
            continue
        # accepted by the schema: the single-row answer is its row in a batch
        assert predictor.predict([customer]) == _in_a_batch(predictor, expected[0])


def test_missing_fields_and_non_dicts_are_left_to_pydantic(predictor: Predictor, customers):
    missing = {k: v for k, v in customers[0].items() if k not in ("Age", "Gender")}
    assert plain_row(missing) is None
    with pytest.raises(InvalidCustomerError) as err:
        predictor.predict([missing])
    assert {e.field for e in err.value.errors} == {"Age", "Gender"}
    assert plain_row([1, 2]) is None
    extra = {**customers[0], "Surname": "x", "Exited": 1}
    assert plain_row(extra) is not None
    assert predictor.predict([extra]) == predictor.predict(customers[:1])


@settings(max_examples=200, deadline=None)
@given(customer=customers_strategy(), spelled_as_float=st.booleans())
def test_any_valid_customer_is_answered_alike(predictor: Predictor, customer, spelled_as_float):
    if spelled_as_float:
        customer = {k: float(v) if type(v) is int else v for k, v in customer.items()}
    assert plain_row(customer) is not None
    row = validate_customers([customer])[0]
    assert predictor.predict([customer]) == _in_a_batch(predictor, row)
    assert predictor.predict_valid([row], explain=True) == _in_a_batch(predictor, row, True)
