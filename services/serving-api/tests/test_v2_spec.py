"""The V2 REST surface held against the protocol's own published OpenAPI document
(spec/open-inference-protocol/open_inference_rest.yaml), not only against our schema:
schemathesis drives every operation it lists; no 5xx, statuses and bodies as it documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from churn_core import Predictor
from churn_testing import quick_bundle
from serving_api.app import create_app
from serving_api.config import Settings

SPEC = Path(__file__).parents[1] / "spec" / "open-inference-protocol" / "open_inference_rest.yaml"


def published_document() -> dict[str, Any]:
    """The document as published; its `${NAME}` path templates read as the `{NAME}`
    parameters each path declares."""
    document = yaml.safe_load(SPEC.read_text())
    document["paths"] = {path.replace("${", "{"): item for path, item in document["paths"].items()}
    return document


def _ready_app() -> tuple[Any, str]:
    predictor = Predictor.from_bundle(quick_bundle())
    app = create_app(Settings(capture_enabled=False, warmup_rounds=1), predictor=predictor)
    app.state.service.start()  # the ASGI transport does not run the lifespan
    assert app.state.service.wait_ready(60)
    return app, predictor.model_version


APP, VERSION = _ready_app()
CONFIG = SchemathesisConfig.from_dict(
    {"parameters": {"path.MODEL_NAME": "churn", "path.MODEL_VERSION": VERSION}}
)
schema = schemathesis.openapi.from_dict(published_document(), config=CONFIG)
schema.app = APP


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_conforms_to_the_published_document(case: schemathesis.Case) -> None:
    excluded = []
    if case.operation.path.endswith("/infer"):
        # The generic tensor schema cannot say "exactly one tensor per feature", so most
        # schema-valid bodies are refused (400, which the document lists): only the
        # positive-data check is skipped; statuses, bodies and "no 5xx" are still checked.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)


def test_a_valid_inference_conforms_too() -> None:
    """Generated bodies are refused (above); one valid inference, binary-free and with every
    output, is held against the document's response schema as well."""
    from .test_v2 import CUSTOMER, infer_body

    operation = schema["/v2/models/{MODEL_NAME}/versions/{MODEL_VERSION}/infer"]["POST"]
    outputs = [{"name": n} for n in ("churn_probability", "churn_prediction", "risk_level")]
    case = operation.Case(
        path_parameters={"MODEL_NAME": "churn", "MODEL_VERSION": VERSION},
        body=infer_body([CUSTOMER, CUSTOMER], id="spec-1", outputs=outputs),
        media_type="application/json",
    )
    response = case.call_and_validate()
    assert response.status_code == 200
    assert [o["name"] for o in response.json()["outputs"]] == [o["name"] for o in outputs]
