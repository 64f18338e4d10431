import pytest
from churn_core.schema import (
    FEATURE_NAMES,
    Customer,
    InvalidCustomerError,
    risk_level,
    validate_customers,
)

GOOD = {
    "CreditScore": 650,
    "Geography": "Germany",
    "Gender": "Female",
    "Age": 45,
    "Tenure": 3,
    "Balance": 120000.5,
    "NumOfProducts": 2,
    "HasCrCard": 1,
    "IsActiveMember": 0,
    "EstimatedSalary": 50000.0,
}


def test_valid_customer_passes_and_identifiers_are_ignored():
    rows = validate_customers([{**GOOD, "CustomerId": 15634602, "Surname": "Hargrave"}])
    assert set(rows[0]) == set(FEATURE_NAMES)
    assert Customer(**GOOD).Age == 45


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("CreditScore", 299),
        ("CreditScore", 901),
        ("CreditScore", "650"),
        ("Geography", "Italy"),
        ("Gender", "male"),
        ("Age", 17),
        ("Age", 101),
        ("Age", 40.5),
        ("Tenure", 11),
        ("Balance", -0.01),
        ("Balance", float("nan")),
        ("Balance", float("inf")),
        ("NumOfProducts", 5),
        ("HasCrCard", True),
        ("HasCrCard", 2),
        ("IsActiveMember", "1"),
        ("EstimatedSalary", -5),
        ("EstimatedSalary", None),
    ],
)
def test_bad_value_is_rejected_naming_the_field(field, value):
    with pytest.raises(InvalidCustomerError) as err:
        validate_customers([GOOD, {**GOOD, field: value}])
    assert [(e.index, e.field) for e in err.value.errors] == [(1, field)]
    assert field in str(err.value)


def test_every_bad_field_of_every_customer_is_listed():
    bad = {**GOOD, "Age": 5, "Geography": "Mars"}
    missing = {k: v for k, v in GOOD.items() if k != "Tenure"}
    with pytest.raises(InvalidCustomerError) as err:
        validate_customers([bad, GOOD, missing])
    found = {(e.index, e.field) for e in err.value.errors}
    assert found == {(0, "Age"), (0, "Geography"), (2, "Tenure")}


def test_integer_valued_balance_is_accepted_as_float():
    assert validate_customers([{**GOOD, "Balance": 0}])[0]["Balance"] == 0


@pytest.mark.parametrize(
    ("p", "level"),
    [(0.0, "LOW"), (0.2999, "LOW"), (0.3, "MEDIUM"), (0.6999, "MEDIUM"), (0.7, "HIGH")],
)
def test_risk_levels(p, level):
    assert risk_level(p) == level
