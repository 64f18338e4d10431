"""SageMaker handler functions for the churn model (scikit-learn container, SAGEMAKER_PROGRAM).

Runs on the AWS scikit-learn 1.4-2 image (Python 3.10), so: no 3.11-only syntax here.
Only transport lives in this file: parsing bodies and rendering answers. Validation, features,
the model and explanations are all churn_core's, the same code every other service calls.

Client errors are HandlerError subclasses carrying ``status_code`` (400/406/415), the convention
of the SageMaker inference toolkit; ``sagemaker-handler serve`` answers with it. The scikit-learn
image's own server (sagemaker_containers: Flask under gunicorn) turns any exception from
input_fn / predict_fn into a 500 HTML page, so inside its Flask request the error travels as a
value to output_fn, which answers it with a response object carrying its status (see _answer).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any


def _installed_before_vendored() -> None:
    """Put setuptools' vendored copies behind the installed packages on sys.path.

    Why this exists: on AWS's scikit-learn image the serving process imports pkg_resources, which
    appends setuptools/_vendor to sys.path; sagemaker_containers hands that sys.path to gunicorn
    as ``--pythonpath`` and gunicorn puts it in front of each worker's path. setuptools' vendored
    typing_extensions then hides the installed one, and pydantic-core fails to import (seen with
    setuptools 80.9: "cannot import name 'Sentinel' from 'typing_extensions'"). Whatever versions
    resolve, a vendored copy must never stand in for an installed distribution: move every
    ``_vendor`` directory of setuptools/pkg_resources to the end of sys.path (pkg_resources still
    finds its own copies there) and forget modules already imported from one, so the next import
    resolves to the installed package.
    """
    vendored = [entry for entry in sys.path if _is_vendor_dir(entry)]
    if not vendored:
        return
    sys.path[:] = [entry for entry in sys.path if entry not in vendored] + vendored
    roots = tuple(os.path.join(entry.rstrip(os.sep), "") for entry in vendored)
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if origin.startswith(roots):
            del sys.modules[name]


def _is_vendor_dir(entry: str) -> bool:
    parent, name = os.path.split(entry.rstrip(os.sep))
    return name == "_vendor" and os.path.basename(parent) in ("setuptools", "pkg_resources")


_installed_before_vendored()

from churn_core import InvalidCustomerError, Predictor  # noqa: E402
from churn_core.envelope import EnvelopeError, parse_envelope  # noqa: E402
from churn_core.jsonbody import RequestBodyError, media_type, parse_json_body  # noqa: E402
from churn_core.schema import FEATURES, customers_from_csv  # noqa: E402

JSON = "application/json"
JSON_LINES = "application/jsonlines"
CSV = "text/csv"
CONTENT_TYPES = (JSON, JSON_LINES, CSV)
ACCEPTS = (JSON, JSON_LINES, CSV)
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
PREDICTION_COLUMNS = ("churn_probability", "churn_prediction", "risk_level", "model_version")


class HandlerError(ValueError):
    status_code = 400

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or []

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


class InvalidInput(HandlerError):
    status_code = 400


class UnsupportedContentType(HandlerError):
    status_code = 415


class UnsupportedAccept(HandlerError):
    status_code = 406


@dataclass
class ChurnRequest:
    customers: list[dict[str, Any]]
    explain: bool = False
    error: HandlerError | None = None  # set only inside the image's Flask worker (see _reject)


@dataclass
class ChurnResult:
    predictions: list[dict[str, Any]] = field(default_factory=list)
    model_version: str = ""
    error: HandlerError | None = None


def model_fn(model_dir: str) -> Predictor:
    # Verifies the sha256 of every bundle file; a tampered bundle raises BundleError here.
    predictor = Predictor.from_bundle(model_dir)
    predictor.warm_up()  # before /ping answers, so the first request pays no lazy setup
    predictor.compile_in_background()  # same answers, faster once done (churn_core.single_row)
    return predictor


def input_fn(input_data: Any, content_type: str, context: Any = None) -> ChurnRequest:
    try:
        return _parse_request(input_data, content_type, context)
    except HandlerError as exc:
        return ChurnRequest([], error=_reject(exc))


def predict_fn(data: ChurnRequest, model: Predictor) -> ChurnResult:
    if data.error is not None:
        return ChurnResult(error=data.error)
    try:
        predictions = model.predict(data.customers, explain=data.explain)
    except InvalidCustomerError as exc:
        errors = [e.as_dict() for e in exc.errors]
        invalid = InvalidInput(f"invalid customers: {exc}", errors)
        return ChurnResult(error=_reject(invalid))
    return ChurnResult([p.model_dump() for p in predictions], model.model_version)


def output_fn(prediction: ChurnResult, accept: str) -> Any:
    """(body, content type); inside the image's Flask worker, a client error as a response."""
    try:
        if prediction.error is not None:
            raise prediction.error
        return _render(prediction, _accepted(accept))
    except HandlerError as exc:
        return _answer(_reject(exc))


def _reject(exc: HandlerError) -> HandlerError:
    """Raise a client error where the server maps ``status_code`` (``serve``, the inference
    toolkit); return it inside the image's Flask worker, where raising would answer 500."""
    if _flask_request() is None:
        raise exc
    return exc


def _answer(exc: HandlerError) -> Any:
    """The client error as the framework's response type: a Flask response with its status."""
    import flask

    body = json.dumps(exc.as_dict())
    return flask.Response(body, status=exc.status_code, mimetype=JSON)


def _flask_request() -> Any:
    """The Flask request being served, or None outside Flask (and where Flask is absent)."""
    try:
        import flask
    except ImportError:
        return None
    return flask.request if flask.has_request_context() else None


def _parse_request(input_data: Any, content_type: str, context: Any) -> ChurnRequest:
    kind = media_type(content_type) or JSON
    if kind not in CONTENT_TYPES:
        raise UnsupportedContentType(
            f"unsupported content type {content_type!r}; use one of {', '.join(CONTENT_TYPES)}"
        )
    text = _text(input_data)
    if kind == CSV:
        request = ChurnRequest(_customers_from_csv(text))
    elif kind == JSON_LINES:
        request = ChurnRequest([_json_object(line, i) for i, line in enumerate(_lines(text))])
    else:
        request = _request_from_json(text)
    if not request.customers:
        raise InvalidInput("the request holds no customers")
    request.explain = request.explain or _explain_attribute(context)
    return request


def _render(prediction: ChurnResult, kind: str) -> tuple[str, str]:
    if kind == CSV:
        return _to_csv(prediction.predictions), CSV
    if kind == JSON_LINES:
        return "".join(json.dumps(p) + "\n" for p in prediction.predictions), JSON_LINES
    body = {"predictions": prediction.predictions, "model_version": prediction.model_version}
    return json.dumps(body), JSON


def _accepted(accept: str | None) -> str:
    """The first supported type of an Accept header; none or */* means JSON."""
    offered = [media_type(part) for part in (accept or "").split(",") if part.strip()]
    if not offered:
        return JSON
    for kind in offered:
        if kind in ACCEPTS:
            return kind
        if kind in ("*/*", "application/*"):
            return JSON
        if kind == "text/*":
            return CSV
    raise UnsupportedAccept(f"unsupported accept {accept!r}; use one of {', '.join(ACCEPTS)}")


def _text(input_data: Any) -> str:
    # The container hands JSON and CSV over as str, other types (and charset=…) as bytes.
    if isinstance(input_data, str):
        return input_data
    try:
        return bytes(input_data).decode("utf-8")
    except (UnicodeDecodeError, TypeError):
        raise InvalidInput("the request body is not UTF-8 text") from None


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _json_object(text: str, index: int) -> dict[str, Any]:
    try:
        value = parse_json_body(text)
    except RequestBodyError as exc:
        raise InvalidInput(f"line {index + 1}: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"line {index + 1}: each line must be one customer object")
    return value


def _request_from_json(text: str) -> ChurnRequest:
    try:
        body = parse_json_body(text)
    except RequestBodyError as exc:
        raise InvalidInput(str(exc)) from None
    if not (isinstance(body, dict) and "instances" in body):
        body = {"instances": body if isinstance(body, list) else [body]}  # one or a list
    try:
        envelope = parse_envelope(body)
    except EnvelopeError as exc:
        raise InvalidInput(str(exc)) from None
    except InvalidCustomerError as exc:
        first = exc.errors[0].index
        raise InvalidInput(
            f"instance {first} must be an object with the customer fields",
            [e.as_dict() for e in exc.errors],
        ) from None
    return ChurnRequest(envelope.instances, envelope.explain)


def _customers_from_csv(text: str) -> list[dict[str, Any]]:
    """Rows in schema order, no header; cells typed by the schema, never guessed."""
    try:
        return customers_from_csv(text)
    except InvalidCustomerError as exc:
        raise InvalidInput(f"invalid customers: {exc}", [e.as_dict() for e in exc.errors]) from None


def _explain_attribute(context: Any) -> bool:
    """explain=true in X-Amzn-SageMaker-Custom-Attributes.

    The inference toolkit passes a ``context`` as the third argument of input_fn; the
    scikit-learn image's single-model server (Flask under gunicorn) does not, so there the header
    is read from the Flask request being served.
    """
    headers: Any = None
    if context is not None:
        try:
            headers = context.request_processor[0].get_request_properties()
        except (AttributeError, IndexError, TypeError):
            headers = None
    if headers is None:
        request = _flask_request()
        headers = request.headers if request is not None else None
    if not headers:
        return False
    value = ""
    for key, item in headers.items():
        if str(key).lower() == CUSTOM_ATTRIBUTES.lower():
            value = str(item)
    attributes = (part.strip().lower() for part in value.split(","))
    return "explain=true" in attributes


def _to_csv(predictions: list[dict[str, Any]]) -> str:
    """No header. Columns: probability, prediction, risk level, model version, and with explain
    the base value then one contribution per feature in schema order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for p in predictions:
        row = [p[column] for column in PREDICTION_COLUMNS]
        if "feature_contributions" in p:
            row.append(p["base_value"])
            row.extend(p["feature_contributions"][spec.name] for spec in FEATURES)
        writer.writerow(row)  # floats as repr: the shortest text that reads back exactly
    return out.getvalue()
