"""schemathesis against the app's own OpenAPI document: no 5xx, every response conforms."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from churn_core import Predictor
from churn_testing import quick_bundle
from serving_api.app import create_app
from serving_api.config import Settings


def _ready_app():
    app = create_app(
        Settings(capture_enabled=False, warmup_rounds=1, batch_limit=50),
        predictor=Predictor.from_bundle(quick_bundle()),
    )
    app.state.service.start()  # the ASGI transport does not run the lifespan
    assert app.state.service.wait_ready(60)
    return app


# The contract answers a batch over the limit with 413, which schemathesis does not expect from
# schema-violating data by default; every other expectation is schemathesis's own.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 404, 405, 406, 413, 415, 422]
            }
        }
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _ready_app(), config=CONFIG)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: schemathesis.Case) -> None:
    excluded = []
    if case.operation.path == "/v2/models/churn/infer":
        # The protocol's generic tensor schema cannot say "exactly one tensor per feature",
        # so schema-valid V2 bodies are mostly semantically invalid: only the positive-data
        # check is skipped here; no 5xx and response conformance are still checked.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)
