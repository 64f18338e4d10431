"""ChurnPredictor in-process: the CPR interface around churn-core, local and gs:// bundles."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import churn_core
from churn_core import BundleError, InvalidCustomerError
from churn_core.data import generate
from churn_core.samples import SAMPLE_CUSTOMERS
from churn_testing.strategies import customers_strategy
from vertex_predictor.predictor import ChurnPredictor, InvalidRequestError

FEATURES = list(churn_core.FEATURE_NAMES)


@pytest.fixture(scope="module")
def predictor(bundle_dir: Path) -> ChurnPredictor:
    p = ChurnPredictor()
    p.load(str(bundle_dir))
    return p


@pytest.fixture(scope="module")
def core(bundle_dir: Path) -> churn_core.Predictor:
    return churn_core.Predictor.from_bundle(bundle_dir)


def run(predictor: ChurnPredictor, body: object) -> dict:
    return predictor.postprocess(predictor.predict(predictor.preprocess(body)))


def customers(n: int, seed: int = 3) -> list[dict]:
    frame = generate(n, seed=seed)[FEATURES]
    return json.loads(frame.to_json(orient="records"))


def test_is_a_cpr_predictor() -> None:
    from google.cloud.aiplatform.prediction.predictor import Predictor

    assert issubclass(ChurnPredictor, Predictor)


def test_predictions_have_contract_fields(predictor: ChurnPredictor) -> None:
    out = run(predictor, {"instances": SAMPLE_CUSTOMERS})
    assert set(out) == {"predictions"}
    assert len(out["predictions"]) == len(SAMPLE_CUSTOMERS)
    for p in out["predictions"]:
        assert set(p) == {"churn_probability", "churn_prediction", "risk_level", "model_version"}
        assert 0.0 <= p["churn_probability"] <= 1.0
        assert p["churn_prediction"] in (0, 1)
        assert p["risk_level"] in ("LOW", "MEDIUM", "HIGH")
    json.dumps(out)  # what the CPR serializer does with it


def test_parity_with_churn_core(predictor: ChurnPredictor, core: churn_core.Predictor) -> None:
    batch = customers(200)
    ours = run(predictor, {"instances": batch, "parameters": {"explain": True}})["predictions"]
    theirs = core.predict(batch, explain=True)
    for mine, direct in zip(ours, theirs, strict=True):
        assert abs(mine["churn_probability"] - direct.churn_probability) <= 1e-9
        assert mine["churn_prediction"] == direct.churn_prediction
        assert mine["risk_level"] == direct.risk_level
        assert mine["model_version"] == core.model_version
        for name in FEATURES:
            assert (
                abs(mine["feature_contributions"][name] - direct.feature_contributions[name])
                <= 1e-9
            )


def test_explanations_add_up(predictor: ChurnPredictor) -> None:
    out = run(predictor, {"instances": customers(50), "parameters": {"explain": True}})
    for p in out["predictions"]:
        assert set(p["feature_contributions"]) == set(FEATURES)
        total = p["base_value"] + sum(p["feature_contributions"].values())
        assert abs(total - p["churn_probability"]) <= 1e-6


def test_explain_false_has_no_explanation(predictor: ChurnPredictor) -> None:
    out = run(predictor, {"instances": SAMPLE_CUSTOMERS[:1], "parameters": {"explain": False}})
    assert "feature_contributions" not in out["predictions"][0]
    assert "base_value" not in out["predictions"][0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("CreditScore", "650"),
        ("CreditScore", 200),
        ("Geography", "Italy"),
        ("Age", 17),
        ("HasCrCard", True),
        ("Balance", -1.0),
        ("NumOfProducts", 5),
    ],
)
def test_bad_field_is_named(predictor: ChurnPredictor, field: str, value: object) -> None:
    bad = {**SAMPLE_CUSTOMERS[0], field: value}
    with pytest.raises(InvalidCustomerError) as caught:
        predictor.preprocess({"instances": [SAMPLE_CUSTOMERS[1], bad]})
    assert [(e.index, e.field) for e in caught.value.errors] == [(1, field)]


def test_missing_field_is_named(predictor: ChurnPredictor) -> None:
    bad = {k: v for k, v in SAMPLE_CUSTOMERS[0].items() if k != "Tenure"}
    with pytest.raises(InvalidCustomerError) as caught:
        predictor.preprocess({"instances": [bad]})
    assert [e.field for e in caught.value.errors] == ["Tenure"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([SAMPLE_CUSTOMERS[0]], "(body)"),
        ({}, "instances"),
        ({"instances": []}, "instances"),
        ({"instances": SAMPLE_CUSTOMERS[0]}, "instances"),
        ({"instances": SAMPLE_CUSTOMERS, "parameters": []}, "parameters"),
        ({"instances": SAMPLE_CUSTOMERS, "parameters": {"explain": "yes"}}, "parameters.explain"),
    ],
)
def test_bad_envelope_is_named(predictor: ChurnPredictor, body: object, field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        predictor.preprocess(body)
    assert caught.value.field == field


def test_instance_limit(bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_MAX_INSTANCES", "2")
    predictor = ChurnPredictor()  # settings are read once, when the CPR builds the predictor
    predictor.load(str(bundle_dir))
    with pytest.raises(InvalidRequestError, match="at most 2"):
        predictor.preprocess({"instances": SAMPLE_CUSTOMERS[:3]})
    assert len(run(predictor, {"instances": SAMPLE_CUSTOMERS[:2]})["predictions"]) == 2


def test_non_object_instance_is_named(predictor: ChurnPredictor) -> None:
    with pytest.raises(InvalidCustomerError) as caught:
        predictor.preprocess({"instances": [SAMPLE_CUSTOMERS[0], [1, 2, 3]]})
    assert [(e.index, e.field) for e in caught.value.errors] == [(1, "(customer)")]


def test_tampered_bundle_is_refused(bundle_dir: Path, tmp_path: Path) -> None:
    """Refused, not raised: the server stays up and its health route gives the reason."""
    copy = Path(shutil.copytree(bundle_dir, tmp_path / "bundle"))
    with (copy / "model.txt").open("a") as model_file:
        model_file.write("\n")
    predictor = ChurnPredictor()
    predictor.load(str(copy))
    assert predictor.failure_reason == BundleError.public_reason
    with pytest.raises(RuntimeError):
        predictor.model  # noqa: B018 (nothing is served)


def test_missing_uri_is_refused() -> None:
    with pytest.raises(ValueError, match="AIP_STORAGE_URI"):
        ChurnPredictor().load("")


def test_loads_from_gcs_into_a_temporary_dir_and_cleans_up(
    gcs_bundle_uri: str,
    core: churn_core.Predictor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the CPR pitfall: downloads landing in the working directory
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    predictor = ChurnPredictor()
    predictor.load(gcs_bundle_uri)
    assert [p.name for p in tmp_path.iterdir()] == ["tmp"]
    assert list((tmp_path / "tmp").iterdir()) == []  # downloaded, loaded, removed
    out = run(predictor, {"instances": SAMPLE_CUSTOMERS})["predictions"]
    direct = core.predict(SAMPLE_CUSTOMERS)
    assert [p["churn_probability"] for p in out] == [d.churn_probability for d in direct]


def test_missing_gcs_bundle_is_refused(
    gcs_emulator: str, model_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    predictor = ChurnPredictor()
    predictor.load(f"gs://{model_bucket}/does-not-exist")
    assert predictor.failure_reason == BundleError.public_reason
    assert "no objects" in caplog.text


_customer = customers_strategy()  # every valid customer the schema allows


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(_customer, min_size=1, max_size=8))
def test_any_valid_batch_matches_churn_core(
    predictor: ChurnPredictor, core: churn_core.Predictor, batch: list[dict]
) -> None:
    out = run(predictor, {"instances": batch, "parameters": {"explain": True}})["predictions"]
    direct = core.predict(batch)
    assert len(out) == len(batch)
    for mine, theirs in zip(out, direct, strict=True):
        assert abs(mine["churn_probability"] - theirs.churn_probability) <= 1e-9
        total = mine["base_value"] + sum(mine["feature_contributions"].values())
        assert abs(total - mine["churn_probability"]) <= 1e-6


def test_integral_floats_from_vertex_are_integers(predictor: ChurnPredictor) -> None:
    """The SDK sends 650 as 650.0 (protobuf Value); that must score exactly like 650."""
    as_vertex_sends = [
        {k: float(v) if isinstance(v, int) else v for k, v in c.items()} for c in SAMPLE_CUSTOMERS
    ]
    assert isinstance(as_vertex_sends[0]["CreditScore"], float)
    assert run(predictor, {"instances": as_vertex_sends}) == run(
        predictor, {"instances": SAMPLE_CUSTOMERS}
    )


@pytest.mark.parametrize(("field", "value"), [("Age", 42.5), ("CreditScore", "650.0")])
def test_non_integral_values_stay_errors(
    predictor: ChurnPredictor, field: str, value: object
) -> None:
    with pytest.raises(InvalidCustomerError) as caught:
        predictor.preprocess({"instances": [{**SAMPLE_CUSTOMERS[0], field: value}]})
    assert [e.field for e in caught.value.errors] == [field]
