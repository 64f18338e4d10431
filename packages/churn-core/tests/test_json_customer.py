"""churn_core.json_customer: a JSON body's customer read in one pass, never more permissive than
the general path (orjson, then single_row.plain_row) and read to the same row, bit for bit."""

import numpy as np
import orjson
import pytest
from hypothesis import given, settings

from churn_core.data import generate
from churn_core.features import build_matrix, columns_from_records
from churn_core.json_customer import plain_customer
from churn_core.schema import FEATURE_NAMES, FEATURES, validate_customers
from churn_core.single_row import plain_row
from churn_testing.strategies import customers_strategy

from .test_single_row import _BAD_VALUES, _boundary_customers


def _general(body: bytes) -> tuple[dict, list[float]] | None:
    """What the general path makes of ``body`` when it reads it as plainly valid."""
    try:
        customer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    row = plain_row(customer)
    if row is None:
        return None
    return {name: customer[name] for name in FEATURE_NAMES}, row


def _same_or_left_to_the_general_path(body: bytes) -> tuple[dict, list[float]] | None:
    ours = plain_customer(body)
    if ours is not None:
        general = _general(body)
        assert general is not None, body
        assert ours[0] == general[0], body
        assert type(ours[0]) is dict and list(ours[0]) == list(FEATURE_NAMES)
        assert np.array(ours[1]).tobytes() == np.array(general[1]).tobytes(), body
    return ours


def test_rows_equal_build_matrix_bit_for_bit():
    customers = generate(2_000, seed=7)[list(FEATURE_NAMES)].to_dict(orient="records")
    customers += [
        c
        for c in _boundary_customers()
        if not any(
            type(v) is float and v.is_integer() and spec.kind == "int"
            for spec, v in zip(FEATURES, c.values(), strict=True)
        )
    ]
    read = [_same_or_left_to_the_general_path(orjson.dumps(c)) for c in customers]
    assert all(r is not None for r in read)
    expected = build_matrix(columns_from_records(validate_customers(customers)))
    assert np.array([row for _, row in read]).tobytes() == expected.tobytes()
    # values keep their JSON types: an int amount stays an int (as the general path keeps it)
    assert [type(c["Balance"]) for c, _ in read] == [type(c["Balance"]) for c in customers]


@pytest.mark.parametrize("spec", FEATURES, ids=lambda s: s.name)
def test_odd_values_are_left_to_the_general_path(customers, spec):
    for value in _BAD_VALUES:
        try:
            body = orjson.dumps({**customers[0], spec.name: value})
        except TypeError:  # not JSON (numpy scalars): never a body
            continue
        except orjson.JSONEncodeError:  # NaN, ±inf and 10**400 are spelled by hand below
            continue
        if _same_or_left_to_the_general_path(body) is None:
            continue
        assert plain_row({**customers[0], spec.name: value}) is not None, (spec.name, value)


def _spelled(customer: dict, name: str, raw: str) -> bytes:
    """The customer's JSON with ``name``'s value written as ``raw``, byte for byte."""
    text = orjson.dumps({**customer, name: "@@"}).decode()
    return text.replace('"@@"', raw).encode()


@pytest.mark.parametrize(
    "raw",
    ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "0300", "01", "1.", ".5", "+1", "0x10",
     "1e2", "40.0", "true", "null", '"40"', "9007199254740993", "100000000000000000000000000000",
     "-0", "-0.0", "5e-324", "1.7976931348623157e308"],
)  # fmt: skip
def test_numbers_are_read_as_orjson_reads_them_or_left_alone(customers, raw):
    for name in ("Age", "Balance", "HasCrCard"):
        _same_or_left_to_the_general_path(_spelled(customers[0], name, raw))


def test_json_that_orjson_refuses_or_reads_otherwise_is_left_alone(customers):
    body = orjson.dumps(customers[0])
    assert plain_customer(body) is not None
    refused = [
        b"\xef\xbb\xbf" + body,  # a byte order mark
        body + b" x",
        body + b"\x00",
        body[:-1],
        b"[" + body + b"]",
        body.replace(b'"France"', b'"Fr\xff"'),  # invalid UTF-8
        b"",
        b"null",
    ]
    for odd in refused:
        assert plain_customer(odd) is None, odd
    # read alike: whitespace, escapes, repeated keys (the last wins in both)
    alike = [
        b" \n" + body + b"\n ",
        body.replace(b'"Geography"', b'"Ge\\u006fgraphy"'),
        body[:-1] + b',"Age":50}',
        b'{"Age":99,' + body[1:],
    ]
    for same in alike:
        assert _same_or_left_to_the_general_path(same) is not None, same
    assert plain_customer(body[:-1] + b',"Age":50}')[0]["Age"] == 50


def test_missing_or_extra_keys_are_left_to_the_general_path(customers):
    missing = {k: v for k, v in customers[0].items() if k != "Age"}
    assert plain_customer(orjson.dumps(missing)) is None
    extra = {**customers[0], "Surname": "x"}  # valid: the general path ignores it
    assert plain_customer(orjson.dumps(extra)) is None
    assert _general(orjson.dumps(extra)) is not None


@settings(max_examples=300, deadline=None)
@given(customer=customers_strategy())
def test_any_valid_customer_is_read_alike(customer):
    assert _same_or_left_to_the_general_path(orjson.dumps(customer)) is not None
