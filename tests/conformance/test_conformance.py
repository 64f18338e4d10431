"""One bundle, three serving paths, the same answers.

The same 1,000 generated customers plus boundary cases go to serving-api, the SageMaker
container server and the Vertex CPR server; probabilities, predictions, risk levels and
explanations must agree with each other and with the library to 1e-9, and the same bad inputs
must be refused with a 4xx naming the field on every path.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from churn_core import Predictor
from churn_core.data import generate
from churn_core.samples import SAMPLE_CUSTOMERS
from churn_core.schema import FEATURE_NAMES, FEATURES

TOLERANCE = 1e-9
GENERATED = 1000
CHUNK = 500  # under every path's per-request limit (serving-api and Vertex: 1000)


def boundary_customers() -> list[dict[str, Any]]:
    """Every bound and category of the schema, one feature at a time, plus all-low and
    all-high customers and a zero balance."""
    base = dict(SAMPLE_CUSTOMERS[1])
    cases: list[dict[str, Any]] = []
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    for spec in FEATURES:
        number = float if spec.kind == "float" else int
        values: list[Any] = list(spec.categories or ())
        if spec.minimum is not None:
            values.append(number(spec.minimum))
        if spec.maximum is not None:
            values.append(number(spec.maximum))
        cases += [{**base, spec.name: value} for value in values]
        low[spec.name] = values[0]
        # Unbounded amounts: far beyond anything seen in training.
        high[spec.name] = values[-1] if spec.maximum is not None or spec.categories else 1e9
    return [*cases, low, high, {**base, "Balance": 0.0}]


CUSTOMERS: list[dict[str, Any]] = [
    *generate(GENERATED, seed=20240611)[list(FEATURE_NAMES)].to_dict(orient="records"),
    *boundary_customers(),
]


def chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


@pytest.fixture(scope="module")
def reference(bundle_dir) -> list[dict[str, Any]]:
    """The library's own answers, in-process: what every path must reproduce."""
    predictor = Predictor.from_bundle(bundle_dir)
    return [p.model_dump() for p in predictor.predict(CUSTOMERS, explain=True)]


@pytest.fixture(scope="module")
def answers(servers, client) -> dict[str, dict[bool, list[dict[str, Any]]]]:
    """path name -> explain flag -> one prediction per customer, in order."""
    answers = {
        path.name: {
            explain: [p for part in chunks(CUSTOMERS) for p in path.predict(client, part, explain)]
            for explain in (False, True)
        }
        for path in servers
    }
    assert set(answers) == {"serving-api", "sagemaker-handler", "vertex-predictor"}
    return answers


def test_the_customers_cover_every_bound_and_category() -> None:
    assert len(CUSTOMERS) > GENERATED
    for spec in FEATURES:
        seen = {c[spec.name] for c in CUSTOMERS}
        for value in (*(spec.categories or ()), spec.minimum, spec.maximum):
            if value is not None:
                assert value in seen, (spec.name, value)


@pytest.mark.parametrize("explain", [False, True], ids=["plain", "explain"])
def test_predictions_agree_on_every_path(answers, reference, explain: bool) -> None:
    for name, by_flag in answers.items():
        got = by_flag[explain]
        assert len(got) == len(CUSTOMERS), name
        for i, (p, ref) in enumerate(zip(got, reference, strict=True)):
            where = f"{name}, customer {i}: {CUSTOMERS[i]}"
            assert abs(p["churn_probability"] - ref["churn_probability"]) <= TOLERANCE, where
            assert p["churn_prediction"] == ref["churn_prediction"], where
            assert p["risk_level"] == ref["risk_level"], where
            assert p["model_version"] == ref["model_version"], where
            assert ("feature_contributions" in p) is explain, where


def test_explanations_agree_on_every_path(answers, reference) -> None:
    for name, by_flag in answers.items():
        for i, (p, ref) in enumerate(zip(by_flag[True], reference, strict=True)):
            where = f"{name}, customer {i}"
            assert abs(p["base_value"] - ref["base_value"]) <= TOLERANCE, where
            assert set(p["feature_contributions"]) == set(FEATURE_NAMES), where
            for feature, value in ref["feature_contributions"].items():
                assert abs(p["feature_contributions"][feature] - value) <= TOLERANCE, (
                    where,
                    feature,
                )
            additive = p["base_value"] + sum(p["feature_contributions"].values())
            assert abs(additive - p["churn_probability"]) <= 1e-6, where


def test_the_paths_agree_with_each_other(answers) -> None:
    """Pairwise as well, so a shared deviation from the library would still show up here."""
    (first, base), *others = answers.items()
    for name, by_flag in others:
        for a, b in zip(base[True], by_flag[True], strict=True):
            assert abs(a["churn_probability"] - b["churn_probability"]) <= TOLERANCE, (first, name)
            assert a["risk_level"] == b["risk_level"], (first, name)


def test_one_customer_per_request_gives_the_same_answer(servers, client, reference) -> None:
    for path in servers:
        for i in range(0, len(CUSTOMERS), 97):  # a spread of generated and boundary customers
            route, body = path.path.single(CUSTOMERS[i])
            response = client.post(path.url + route, json=body)
            assert response.status_code == 200, (path.name, response.text)
            p = path.path.answer(response.json())
            delta = abs(p["churn_probability"] - reference[i]["churn_probability"])
            assert delta <= TOLERANCE, (path.name, i)


GOOD = dict(SAMPLE_CUSTOMERS[0])
# (id, customer, field the error must name)
BAD_CUSTOMERS = [
    ("age-above-max", {**GOOD, "Age": 101}, "Age"),
    ("credit-score-below-min", {**GOOD, "CreditScore": 299}, "CreditScore"),
    ("negative-balance", {**GOOD, "Balance": -0.01}, "Balance"),
    ("unknown-geography", {**GOOD, "Geography": "Italy"}, "Geography"),
    ("gender-lowercase", {**GOOD, "Gender": "male"}, "Gender"),
    ("products-zero", {**GOOD, "NumOfProducts": 0}, "NumOfProducts"),
    ("flag-two", {**GOOD, "HasCrCard": 2}, "HasCrCard"),
    ("flag-bool", {**GOOD, "IsActiveMember": True}, "IsActiveMember"),
    ("string-number", {**GOOD, "CreditScore": "650"}, "CreditScore"),
    ("fractional-age", {**GOOD, "Age": 40.5}, "Age"),
    ("null-salary", {**GOOD, "EstimatedSalary": None}, "EstimatedSalary"),
    ("missing-tenure", {k: v for k, v in GOOD.items() if k != "Tenure"}, "Tenure"),
]


@pytest.mark.parametrize(
    ("customer", "field"),
    [pytest.param(c, f, id=i) for i, c, f in BAD_CUSTOMERS],
)
def test_bad_customers_get_a_4xx_naming_the_field_on_every_path(
    servers, client, customer: dict[str, Any], field: str
) -> None:
    for path in servers:
        route, body = path.path.single(customer)
        response = client.post(path.url + route, json=body)
        assert 400 <= response.status_code < 500, (path.name, response.status_code)
        assert field in response.text, (path.name, response.text)
        assert "Traceback" not in response.text, path.name


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", json.dumps([42]).encode()],
    ids=["not-json", "empty", "not-an-object"],
)
def test_malformed_bodies_get_a_4xx_on_every_path(servers, client, content: bytes) -> None:
    for path in servers:
        route, _ = path.path.single(GOOD)
        if path.name == "vertex-predictor" and content.startswith(b"["):
            content = json.dumps({"instances": [42]}).encode()
        response = client.post(
            path.url + route, content=content, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (path.name, content, response.status_code)
        assert "Traceback" not in response.text, path.name
