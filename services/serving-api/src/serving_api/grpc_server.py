"""Open Inference Protocol V2 over gRPC (``inference.GRPCInferenceService``), on its own port.

It runs on grpc.aio in uvicorn's event loop and goes through the same ModelService as HTTP:
the same Predictor, capture records, prediction metrics and readiness. Each call is counted in
``serving_requests_total`` / ``serving_request_duration_seconds`` with route
``/inference.GRPCInferenceService/<Method>``, method ``GRPC`` and the HTTP status its gRPC code
stands for (so the 5xx alerts cover it). With an API key set, the model calls (ModelReady,
ModelMetadata, ModelInfer) need it in the ``x-api-key`` metadata, as HTTP's model routes need
``X-API-Key``; server health and metadata stay open.

Errors: a request the server cannot take → INVALID_ARGUMENT naming the input; another model or
version → NOT_FOUND; not loaded yet → UNAVAILABLE; bad key → UNAUTHENTICATED. Anything else is
logged and answered INTERNAL without detail.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from churn_core import InvalidCustomerError
from serving_api import __version__
from serving_api.errors import ApiError
from serving_api.grpc_codec import (
    infer_response,
    model_metadata_response,
    request_tensors,
    wanted_outputs,
)
from serving_api.grpc_gen import open_inference_grpc_pb2 as pb
from serving_api.grpc_gen import open_inference_grpc_pb2_grpc as pb_grpc
from serving_api.logging import request_id_var
from serving_api.metrics import Metrics
from serving_api.model import ModelService
from serving_api.routes.predict import run_predictions
from serving_api.security import check_api_key
from serving_api.v2_codec import (
    MODEL_NAME,
    TensorError,
    check_model,
    customers_from_tensors,
    invalid_values,
    model_metadata,
)

logger = logging.getLogger(__name__)

SERVICE = "inference.GRPCInferenceService"
Code = grpc.StatusCode
AS_HTTP_STATUS = {
    Code.OK: 200,
    Code.INVALID_ARGUMENT: 400,
    Code.UNAUTHENTICATED: 401,
    Code.NOT_FOUND: 404,
    Code.CANCELLED: 499,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
}
_ID_PREFIX = "grpc-" + os.urandom(6).hex()
_ids = itertools.count(1)


class RpcFailure(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _failure(exc: Exception) -> RpcFailure:
    """The status and message a failed call answers with."""
    if isinstance(exc, RpcFailure):
        return exc
    if isinstance(exc, TensorError):
        return RpcFailure(Code.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, InvalidCustomerError):
        return RpcFailure(Code.INVALID_ARGUMENT, "; ".join(map(str, invalid_values(exc))))
    if isinstance(exc, LookupError):
        return RpcFailure(Code.NOT_FOUND, str(exc))
    if isinstance(exc, ApiError) and exc.status == 401:
        return RpcFailure(Code.UNAUTHENTICATED, "missing or invalid API key (x-api-key metadata)")
    if isinstance(exc, ApiError) and exc.status == 503:
        return RpcFailure(Code.UNAVAILABLE, "model is not ready")
    logger.exception("unhandled error in a gRPC call")
    return RpcFailure(Code.INTERNAL, "internal server error")


def _metadata(context: aio.ServicerContext, key: str) -> str | bytes | None:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return item.value
    return None


Handler = Callable[[Any, Any, aio.ServicerContext], Awaitable[Any]]


def rpc(guarded: bool) -> Callable[[Handler], Handler]:
    """Request id, API key, metrics and the error mapping around one servicer method."""

    def decorate(method: Handler) -> Handler:
        route = f"/{SERVICE}/{method.__name__}"

        @functools.wraps(method)
        async def call(self: InferenceService, request: Any, context: aio.ServicerContext) -> Any:
            started = time.perf_counter()
            given_id = _metadata(context, "x-request-id")
            request_id = (
                given_id
                if isinstance(given_id, str) and 0 < len(given_id) <= 128
                else (f"{_ID_PREFIX}{next(_ids):016x}")
            )
            token = request_id_var.set(request_id)
            context.set_trailing_metadata((("x-request-id", request_id),))
            failure: RpcFailure | None = None
            code = Code.OK
            try:
                if guarded and self.api_key is not None:
                    key = _metadata(context, "x-api-key")
                    check_api_key(key.encode() if isinstance(key, str) else key, self.api_key)
                return await method(self, request, context)
            except asyncio.CancelledError:
                code = Code.CANCELLED
                raise
            except Exception as exc:
                failure = _failure(exc)
                code = failure.code
            finally:
                elapsed = time.perf_counter() - started
                self.metrics.observe_request(route, "GRPC", AS_HTTP_STATUS[code], elapsed)
                request_id_var.reset(token)
            await context.abort(failure.code, failure.message)

        return call

    return decorate


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(
        self, service: ModelService, metrics: Metrics, batch_limit: int, api_key: str | None
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.batch_limit = batch_limit
        self.api_key = api_key.encode() if api_key else None

    def _served_version(self, name: str, version: str) -> str:
        """The model version, after NOT_FOUND for another model or version, UNAVAILABLE
        before the model is ready."""
        check_model(name, None, None)
        self.service.require_ready()
        served = self.service.predictor.model_version  # type: ignore[union-attr]
        check_model(name, version, served)
        return served

    @rpc(guarded=False)
    async def ServerLive(self, request: Any, context: aio.ServicerContext) -> Any:
        return pb.ServerLiveResponse(live=True)

    @rpc(guarded=False)
    async def ServerReady(self, request: Any, context: aio.ServicerContext) -> Any:
        return pb.ServerReadyResponse(ready=self.service.ready)

    @rpc(guarded=False)
    async def ServerMetadata(self, request: Any, context: aio.ServicerContext) -> Any:
        # binary_tensor_data is a REST extension; gRPC carries raw tensors natively.
        return pb.ServerMetadataResponse(name="serving-api", version=__version__, extensions=[])

    @rpc(guarded=True)
    async def ModelReady(self, request: Any, context: aio.ServicerContext) -> Any:
        check_model(request.name, None, None)
        if not self.service.ready:
            return pb.ModelReadyResponse(ready=False)
        self._served_version(request.name, request.version)
        return pb.ModelReadyResponse(ready=True)

    @rpc(guarded=True)
    async def ModelMetadata(self, request: Any, context: aio.ServicerContext) -> Any:
        return model_metadata_response(
            model_metadata(self._served_version(request.name, request.version))
        )

    @rpc(guarded=True)
    async def ModelInfer(self, request: Any, context: aio.ServicerContext) -> Any:
        version = self._served_version(request.model_name, request.model_version)
        customers = customers_from_tensors(request_tensors(request), self.batch_limit)
        wanted = wanted_outputs(request)
        predictions = await run_predictions(self.service, customers, explain=False)
        return infer_response(request, wanted, predictions, MODEL_NAME, version)


async def start_grpc_server(
    service: ModelService,
    metrics: Metrics,
    host: str,
    port: int,
    batch_limit: int,
    max_message_bytes: int,
    api_key: str | None,
) -> aio.Server:
    """Serve on ``host:port`` in the running event loop; RuntimeError if it cannot bind."""
    server = aio.server(
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
    )
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(
        InferenceService(service, metrics, batch_limit, api_key), server
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    await server.start()
    logger.info("gRPC serving", extra={"address": address, "port": bound})
    return server
