import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from churn_core.features import (
    MODEL_FEATURE_NAMES,
    MODEL_FEATURES,
    build_matrix,
    columns_from_records,
)
from churn_core.schema import FEATURE_NAMES
from churn_testing.strategies import customers_strategy


@settings(max_examples=60, deadline=None)
@given(batch=st.lists(customers_strategy(), min_size=1, max_size=30), data=st.data())
def test_a_rows_features_do_not_depend_on_the_batch(batch, data):
    whole = build_matrix(columns_from_records(batch))
    i = data.draw(st.integers(0, len(batch) - 1))
    alone = build_matrix(columns_from_records([batch[i]]))
    np.testing.assert_array_equal(whole[i], alone[0])
    subset = data.draw(st.lists(st.integers(0, len(batch) - 1), min_size=1, max_size=10))
    part = build_matrix(columns_from_records([batch[j] for j in subset]))
    np.testing.assert_array_equal(part, whole[subset])


def test_matrix_shape_and_no_missing_values(customers):
    matrix = build_matrix(columns_from_records(customers))
    assert matrix.shape == (len(customers), len(MODEL_FEATURE_NAMES))
    assert np.isfinite(matrix).all()


def test_every_model_feature_has_one_raw_parent():
    # One parent per model feature keeps explanations over the raw features exact.
    assert all(len(f.parents) == 1 and f.parents[0] in FEATURE_NAMES for f in MODEL_FEATURES)
    assert {f.parents[0] for f in MODEL_FEATURES} == set(FEATURE_NAMES)
