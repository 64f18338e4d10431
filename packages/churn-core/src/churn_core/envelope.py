"""The prediction request envelope ``{"instances": [...], "parameters": {"explain": bool}}``.

Vertex's predict body, SageMaker's JSON body and serving-api's /predict/batch all carry it;
this is the one place it is read. Each service renders the errors in its own protocol.

Python 3.10 compatible: this module ships inside the SageMaker tarball with the rest of the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from churn_core.schema import FieldError, InvalidCustomerError

ENVELOPE = '{"instances": [...]}'


class EnvelopeError(ValueError):
    """The envelope (not a customer field) is malformed; ``field`` names the culprit
    (``(body)``, ``instances``, ``parameters`` or ``parameters.explain``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class TooManyInstancesError(EnvelopeError):
    """More instances than the service accepts in one request (serving-api answers 413)."""


@dataclass(frozen=True)
class Envelope:
    instances: list[dict[str, Any]]
    explain: bool = False


def parse_envelope(
    body: Any, max_instances: int | None = None, parameters: bool = True
) -> Envelope:
    """The instances and the explain flag of a parsed JSON body.

    Raises EnvelopeError for a malformed envelope and InvalidCustomerError (field
    ``(customer)``) for instances that are not JSON objects; the customers' fields are the
    Predictor's to validate. With ``parameters=False`` the ``parameters`` member is not read
    (serving-api takes ``explain`` from its query string).
    """
    if not isinstance(body, dict):
        raise EnvelopeError("(body)", f"must be a JSON object {ENVELOPE}")
    explain = _explain(body.get("parameters")) if parameters else False
    instances = body.get("instances")
    if not isinstance(instances, list):
        raise EnvelopeError("instances", "must be a list of customers")
    if not instances:
        raise EnvelopeError("instances", "holds no customers; send at least 1")
    if max_instances is not None and len(instances) > max_instances:
        raise TooManyInstancesError(
            "instances", f"{len(instances)} instances; at most {max_instances} per request"
        )
    not_objects = [
        FieldError(index=i, field="(customer)", message="must be a JSON object")
        for i, instance in enumerate(instances)
        if not isinstance(instance, dict)
    ]
    if not_objects:
        raise InvalidCustomerError(not_objects)
    return Envelope(instances, explain)


def _explain(parameters: Any) -> bool:
    if parameters is None:
        return False
    if not isinstance(parameters, dict):
        raise EnvelopeError("parameters", "must be a JSON object")
    explain = parameters.get("explain", False)
    if not isinstance(explain, bool):
        raise EnvelopeError("parameters.explain", "must be true or false")
    return explain
