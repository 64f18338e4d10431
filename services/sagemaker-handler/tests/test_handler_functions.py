"""The four handler functions, imported from the extracted tarball as the container imports them,
called with the argument shapes each AWS serving stack uses."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn_testing.strategies import customers_strategy
from sagemaker_handler.handler import RequestContext, import_inference
from sagemaker_handler.packaging import extract_tarball


@pytest.fixture(scope="module")
def loaded(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, Any]:
    model_dir = extract_tarball(tarball, tmp_path_factory.mktemp("opt-ml-model"))
    inference = import_inference(model_dir)
    return inference, inference.model_fn(str(model_dir))


def predict(loaded, body: Any, content_type: str, accept: str = "application/json", *context):
    inference, model = loaded
    data = inference.input_fn(body, content_type, *context)
    return inference.output_fn(inference.predict_fn(data, model), accept)


def test_str_and_bytes_bodies_agree(loaded, customers):
    text = json.dumps(customers[:4])
    assert predict(loaded, text, "application/json") == predict(
        loaded, text.encode(), "application/json"
    )


def test_one_object_list_and_instances_are_the_same_request(loaded, customers):
    inference, _ = loaded
    one = inference.input_fn(json.dumps(customers[0]), "application/json")
    listed = inference.input_fn(json.dumps(customers[:1]), "application/json")
    wrapped = inference.input_fn(json.dumps({"instances": customers[:1]}), "application/json")
    assert one.customers == listed.customers == wrapped.customers == customers[:1]


def test_explain_from_the_inference_toolkit_context(loaded, customers):
    context = RequestContext({"X-Amzn-SageMaker-Custom-Attributes": "explain=true"})
    body, _ = predict(loaded, json.dumps(customers[:2]), "application/json", "*/*", context)
    assert all("feature_contributions" in p for p in json.loads(body)["predictions"])


def test_explain_from_the_flask_request_in_the_gunicorn_server(loaded, customers):
    """The scikit-learn image's single-model server calls input_fn(data, content_type) inside a
    Flask view; the header is read from that request."""
    flask = pytest.importorskip("flask")
    app = flask.Flask("sklearn-container")
    headers = {"X-Amzn-SageMaker-Custom-Attributes": "Explain=True"}
    with app.test_request_context("/invocations", method="POST", headers=headers):
        body, _ = predict(loaded, json.dumps(customers[:2]), "application/json")
    assert all("feature_contributions" in p for p in json.loads(body)["predictions"])
    with app.test_request_context("/invocations", method="POST"):
        body, _ = predict(loaded, json.dumps(customers[:2]), "application/json")
    assert not any("feature_contributions" in p for p in json.loads(body)["predictions"])


def test_client_errors_carry_their_status(loaded, customers):
    inference, model = loaded
    with pytest.raises(inference.UnsupportedContentType) as caught:
        inference.input_fn("{}", "application/x-npy")
    assert caught.value.status_code == 415
    with pytest.raises(inference.InvalidInput) as caught:
        inference.predict_fn(inference.ChurnRequest([{**customers[0], "Gender": "X"}]), model)
    assert caught.value.status_code == 400
    assert caught.value.errors[0]["field"] == "Gender"
    with pytest.raises(inference.UnsupportedAccept) as caught:
        inference.output_fn(inference.ChurnResult(), "application/x-protobuf")
    assert caught.value.status_code == 406


customer_strategy = customers_strategy()  # every valid customer the schema allows


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(customer_strategy, min_size=1, max_size=8))
def test_csv_json_and_churn_core_agree_for_any_valid_customers(loaded, predictor, batch):
    """CSV cells are parsed back to exactly the floats JSON carries, so all paths agree."""
    import csv
    import io

    from churn_core.schema import FEATURE_NAMES

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[c[f] for f in FEATURE_NAMES] for c in batch])
    from_csv, _ = predict(loaded, out.getvalue(), "text/csv")
    from_json, _ = predict(loaded, json.dumps(batch), "application/json")
    expected = [p.churn_probability for p in predictor.predict(batch)]
    assert [p["churn_probability"] for p in json.loads(from_csv)["predictions"]] == expected
    assert [p["churn_probability"] for p in json.loads(from_json)["predictions"]] == expected
