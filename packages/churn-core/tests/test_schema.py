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
        ("Age", 150.0),
        ("Age", None),
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


def test_whole_floats_are_the_same_integer():
    # JSON has one number type; protobuf gateways (Vertex) send 650 as 650.0.
    rows = validate_customers([{**GOOD, "Age": 45.0, "CreditScore": 650.0, "HasCrCard": 1.0}])
    assert rows == [GOOD] and type(rows[0]["Age"]) is int


def test_the_specific_reason_is_reported_once_per_field():
    with pytest.raises(InvalidCustomerError) as err:
        validate_customers([{**GOOD, "Age": 40.5, "Tenure": 11.0, "CreditScore": "650"}])
    assert [(e.field, e.message) for e in err.value.errors] == [
        ("CreditScore", "Input should be a valid integer"),
        ("Age", "Value error, Input should be a whole number"),
        ("Tenure", "Input should be less than or equal to 10"),
    ]


def test_integer_valued_balance_is_accepted_as_float():
    assert validate_customers([{**GOOD, "Balance": 0}])[0]["Balance"] == 0


@pytest.mark.parametrize(
    ("p", "level"),
    [(0.0, "LOW"), (0.2999, "LOW"), (0.3, "MEDIUM"), (0.6999, "MEDIUM"), (0.7, "HIGH")],
)
def test_risk_levels(p, level):
    assert risk_level(p) == level


def test_csv_rows_are_typed_by_the_schema():
    from churn_core.schema import customers_from_csv

    line = "650,Germany,Female,45,3,120000.5,2,1,0,50000.0"
    assert customers_from_csv(line + "\n\n" + line) == [GOOD, GOOD]


def test_customers_written_as_csv_read_back_the_same():
    from churn_core.schema import FEATURE_NAMES, customers_from_csv, customers_to_csv

    extra = {**GOOD, "CustomerId": 15634602, "Balance": 0.1 + 0.2}  # not a feature; a long float
    text = customers_to_csv([extra, GOOD])
    assert text.count("\n") == 2 and "15634602" not in text
    assert customers_from_csv(text) == [{**GOOD, "Balance": 0.1 + 0.2}, GOOD]
    assert customers_to_csv([GOOD], header=True).splitlines()[0].split(",") == list(FEATURE_NAMES)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("650,Germany,Female,45.5,3,120000.5,2,1,0,50000.0", "Age"),
        ("650,Germany,Female,45,3,lots,2,1,0,50000.0", "Balance"),
        ("650,,Female,45,3,1.0,2,1,0,50000.0", "Geography"),
        ("650,Germany,Female,45,3", "(row)"),
    ],
)
def test_csv_cells_of_the_wrong_type_are_named(line, field):
    from churn_core.schema import customers_from_csv

    with pytest.raises(InvalidCustomerError) as err:
        customers_from_csv(line)
    assert [e.field for e in err.value.errors] == [field]
