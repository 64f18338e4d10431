"""CPR request handler: the stock PredictionHandler, with client errors answered as 400.

The stock handler turns every exception from the predictor into a 500 whose detail repeats
the exception's arguments. A bad customer is the caller's mistake, so it gets a 400 that names
each bad field; anything else gets a 500 with a fixed message and the trace only in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse
from google.cloud.aiplatform.prediction import handler_utils
from google.cloud.aiplatform.prediction.handler import PredictionHandler
from google.cloud.aiplatform.prediction.model_server import CprModelServer
from google.cloud.aiplatform.prediction.predictor import Predictor
from google.cloud.aiplatform.prediction.serializer import APPLICATION_JSON, DefaultSerializer

from churn_core import InvalidCustomerError
from churn_core.jsonbody import RequestBodyError, RequestBodyTooLarge, parse_json_body, read_limited
from vertex_predictor.config import settings
from vertex_predictor.predictor import ChurnPredictor, InvalidRequestError

logger = logging.getLogger(__name__)


class ChurnHandler(PredictionHandler):
    def __init__(self, artifacts_uri: str, predictor: type[Predictor] | None = None) -> None:
        super().__init__(artifacts_uri, predictor=predictor or ChurnPredictor)
        self._max_body_bytes = settings().max_body_bytes

    async def handle(self, request: Request) -> Response:
        content_type = handler_utils.get_content_type_from_headers(request.headers)
        if content_type != APPLICATION_JSON:
            raise HTTPException(415, f"Content-Type must be {APPLICATION_JSON}")
        try:
            raw = await read_limited(
                request.stream(), request.headers.get("content-length"), self._max_body_bytes
            )
            body = parse_json_body(raw)
        except RequestBodyTooLarge as error:
            raise HTTPException(413, str(error)) from None
        except RequestBodyError as error:
            raise HTTPException(400, str(error)) from None
        predictor = self._predictor
        if getattr(predictor, "failure_reason", None):
            raise HTTPException(503, predictor.failure_reason)
        try:
            results = predictor.postprocess(predictor.predict(predictor.preprocess(body)))
        except InvalidCustomerError as error:
            raise HTTPException(400, _invalid_customers(error)) from None
        except InvalidRequestError as error:
            raise HTTPException(
                400, {"message": "invalid request", "errors": [_request_error(error)]}
            ) from None
        except Exception:
            logger.exception("prediction failed")
            raise HTTPException(500, "internal error while predicting") from None
        accept = handler_utils.get_accept_from_headers(request.headers)
        return Response(DefaultSerializer.serialize(results, accept), media_type=accept)


class ChurnModelServer(CprModelServer):
    """aiplatform's CprModelServer whose health route says 503 and why when the bundle was
    refused or missing (the stock route answers 200 once the app exists)."""

    def health(self) -> Any:
        reason = getattr(self.handler._predictor, "failure_reason", None)
        if reason:
            return JSONResponse({"status": "failed", "reason": reason}, status_code=503)
        return super().health()


def _invalid_customers(error: InvalidCustomerError) -> dict[str, Any]:
    errors = [e.as_dict() for e in error.errors]
    fields = sorted({e["field"] for e in errors})
    return {"message": f"invalid instances: {', '.join(fields)}", "errors": errors}


def _request_error(error: InvalidRequestError) -> dict[str, str]:
    return {"field": error.field, "message": error.message}
