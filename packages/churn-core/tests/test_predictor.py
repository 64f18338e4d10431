import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churn_core import InvalidCustomerError, Prediction, Predictor
from churn_core.bundle import MODEL_FILE
from churn_core.data import columns_of, generate
from churn_core.features import build_matrix, columns_from_records
from churn_core.schema import FEATURE_NAMES, risk_level
from churn_testing.strategies import customers_strategy


def test_round_trip_predictions_have_the_contract_fields(predictor: Predictor, customers):
    predictions = predictor.predict(customers[:5])
    assert len(predictions) == 5
    for p in predictions:
        assert isinstance(p, Prediction)
        assert 0.0 <= p.churn_probability <= 1.0
        assert p.churn_prediction == int(p.churn_probability >= predictor.threshold)
        assert p.risk_level == risk_level(p.churn_probability)
        assert p.model_version == predictor.model_version
        assert set(p.model_dump()) == {
            "churn_probability",
            "churn_prediction",
            "risk_level",
            "model_version",
        }


def test_parity_with_the_trained_booster_over_10000_rows(predictor: Predictor, bundle_dir):
    frame = generate(10_000, seed=21)
    trained = lgb.Booster(model_file=str(bundle_dir / MODEL_FILE))
    expected = trained.predict(build_matrix(columns_of(frame)))
    records = frame[list(FEATURE_NAMES)].to_dict(orient="records")
    served = np.array([p.churn_probability for p in predictor.predict(records)])
    assert np.max(np.abs(served - expected)) <= 1e-6


def test_batch_equals_singles(predictor: Predictor, customers):
    batch = predictor.predict(customers[:50], explain=True)
    singles = [predictor.predict([c], explain=True)[0] for c in customers[:50]]
    assert batch == singles


def test_invalid_customers_raise_one_error_listing_every_field(predictor: Predictor, customers):
    bad = [customers[0], {**customers[1], "Age": 12, "Gender": "X"}]
    with pytest.raises(InvalidCustomerError) as err:
        predictor.predict(bad)
    assert {(e.index, e.field) for e in err.value.errors} == {(1, "Age"), (1, "Gender")}


def test_explanations_add_up_to_the_probability(predictor: Predictor, customers):
    for p in predictor.predict(customers[:200], explain=True):
        assert set(p.feature_contributions) == set(FEATURE_NAMES)
        total = p.base_value + sum(p.feature_contributions.values())
        assert abs(total - p.churn_probability) <= 1e-6


def test_explanations_agree_with_shaps_exact_explainer(predictor: Predictor, customers):
    shap = pytest.importorskip("shap")
    background = predictor.background
    codes = {name: spec for name, spec in _category_codes().items()}

    def encode(records):
        return np.array(
            [
                [codes[n].index(r[n]) if n in codes else r[n] for n in FEATURE_NAMES]
                for r in records
            ],
            dtype=float,
        )

    def model(rows: np.ndarray) -> np.ndarray:
        cols = {n: rows[:, i] for i, n in enumerate(FEATURE_NAMES)}
        for name, cats in codes.items():
            cols[name] = np.array(cats, dtype=object)[
                rows[:, FEATURE_NAMES.index(name)].astype(int)
            ]
        return predictor.predict_proba(cols)

    masker = shap.maskers.Independent(encode(background), max_samples=len(background))
    exact = shap.explainers.Exact(model, masker)
    sample = customers[:8]
    reference = exact(encode(sample)).values
    ours = np.array(
        [
            [p.feature_contributions[n] for n in FEATURE_NAMES]
            for p in predictor.predict(sample, True)
        ]
    )
    mean_abs_diff = float(np.mean(np.abs(ours - reference)))
    print(f"mean |ours - shap exact| = {mean_abs_diff:.5f}")
    assert mean_abs_diff <= 0.01


def _category_codes():
    from churn_core.schema import CATEGORICAL

    return {name: list(cats) for name, cats in CATEGORICAL.items()}


def test_base_value_is_the_mean_probability_over_the_stored_background(predictor: Predictor):
    records = predictor.background
    mean = np.mean([p.churn_probability for p in predictor.predict(records)])
    assert predictor.predict(records[:1], explain=True)[0].base_value == pytest.approx(
        mean, abs=1e-12
    )


def test_predict_proba_columns_matches_predict(predictor: Predictor, customers):
    proba = predictor.predict_proba(columns_from_records(customers))
    assert np.array_equal(proba, [p.churn_probability for p in predictor.predict(customers)])


@settings(max_examples=80, deadline=None)
@given(batch=st.lists(customers_strategy(), min_size=1, max_size=8))
def test_properties_over_valid_customers(predictor: Predictor, bundle_dir, batch):
    predictions = predictor.predict(batch, explain=True)
    trained = lgb.Booster(model_file=str(bundle_dir / MODEL_FILE))
    expected = trained.predict(build_matrix(columns_from_records(batch)))
    for p, q, customer in zip(predictions, expected, batch, strict=True):
        assert 0.0 <= p.churn_probability <= 1.0
        assert p.risk_level == risk_level(p.churn_probability)
        assert abs(p.churn_probability - q) <= 1e-6
        assert (
            abs(p.base_value + sum(p.feature_contributions.values()) - p.churn_probability) <= 1e-6
        )
        assert predictor.predict([customer])[0].churn_probability == p.churn_probability


def test_dict_of_a_prediction_is_its_model_dump(predictor: Predictor, customers):
    [p] = predictor.predict(customers[:1], explain=True)
    assert dict(p) == p.model_dump()
    assert set(dict(p)) >= {"feature_contributions", "base_value"}


def test_a_dataframe_and_any_iterable_of_mappings_are_customers(predictor: Predictor, customers):
    frame = generate(20, seed=5)  # with the Exited label: extra columns are ignored
    expected = predictor.predict(frame[list(FEATURE_NAMES)].to_dict(orient="records"))
    assert predictor.predict(frame) == expected
    assert predictor.predict(row for row in customers[:3]) == predictor.predict(customers[:3])


def test_one_customer_without_a_list_is_refused_with_a_clear_reason(predictor, customers):
    with pytest.raises(TypeError, match="not one customer"):
        predictor.predict(customers[0])
