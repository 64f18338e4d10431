"""The FastAPI application: wiring of settings, model, capture, metrics, middleware and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import Receive, Scope, Send

from churn_core.schema import Customer
from serving_api import __version__, errors
from serving_api.capture import CaptureWriter
from serving_api.config import Settings
from serving_api.fastpath import FastPredict
from serving_api.metrics import Metrics
from serving_api.middleware import RequestContextMiddleware, RequestRecorder
from serving_api.model import ModelService
from serving_api.routes import health, model, predict, v2
from serving_api.security import api_key_dependency
from serving_api.v2_types import InferRequest

if TYPE_CHECKING:
    from churn_core import Predictor

logger = logging.getLogger(__name__)


class ServingAPI(FastAPI):
    """FastAPI, with POST /predict and /predict/batch handed to the fast path (fastpath.py)
    before its middleware stack and router; every other request goes the FastAPI way."""

    fast: FastPredict | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast is not None:
            handler = self.fast.match(scope)
            if handler is not None:
                await self.fast(scope, receive, send, handler)
                return
        await super().__call__(scope, receive, send)


def default_loader(settings: Settings) -> Callable[[], Predictor]:
    def load() -> Predictor:
        from churn_core import Predictor

        return Predictor.from_bundle(settings.model_dir)

    return load


def create_app(
    settings: Settings | None = None,
    predictor: Predictor | None = None,
    loader: Callable[[], Predictor] | None = None,
    server_process: bool = False,
) -> ServingAPI:
    """Build the app. ``predictor`` (already loaded, e.g. by the CLI) is only warmed up;
    otherwise ``loader`` (default: the bundle at ``settings.model_dir``) runs in the background.
    ``server_process``: the app owns its process (the CLI, each worker), which may then freeze
    its loaded heap out of garbage collection once ready (churn_core/heap.py)."""
    settings = settings or Settings()
    metrics = Metrics()
    capture = (
        CaptureWriter(
            settings.capture_dir,
            metrics,
            max_pending=settings.capture_queue_size,
            max_file_bytes=settings.capture_max_file_bytes,
            max_file_seconds=settings.capture_max_file_seconds,
            fsync_seconds=settings.capture_fsync_seconds,
        )
        if settings.capture_enabled
        else None
    )
    service = ModelService(
        metrics,
        capture,
        loader=None if predictor is not None else loader or default_loader(settings),
        predictor=predictor,
        warmup_rounds=settings.warmup_rounds,
        max_concurrent_batches=settings.max_concurrent_batches,
        freeze_heap=server_process,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if capture is not None:
            capture.start()
        service.start()
        grpc_server = await start_grpc(settings, service, metrics)
        try:
            yield
        finally:
            if grpc_server is not None:  # refuse new calls, let in-flight ones finish
                await grpc_server.stop(settings.grpc_grace_seconds)
            if capture is not None:
                capture.close()
                logger.info(
                    "capture closed",
                    extra={"records_written": capture.written, "records_dropped": capture.dropped},
                )

    app = ServingAPI(
        title="churn serving-api",
        version=__version__,
        summary="Bank-customer churn predictions (custom FastAPI service, Kubernetes path).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.service = service
    app.state.capture = capture

    key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    guarded = [Depends(api_key_dependency(key))] if key else []
    app.include_router(health.router)
    app.include_router(model.router, dependencies=guarded)
    app.include_router(predict.build_router(settings.batch_limit, guarded))
    app.include_router(v2.build_router(settings.batch_limit, guarded))
    errors.install(app)
    v2.install(app)
    recorder = RequestRecorder(metrics, settings.access_log)
    app.add_middleware(RequestContextMiddleware, recorder=recorder)
    if settings.fast_path:
        app.fast = FastPredict(service, settings, recorder)
    app.openapi = lambda: openapi_schema(app)  # type: ignore[method-assign]
    return app


async def start_grpc(settings: Settings, service: ModelService, metrics: Metrics) -> Any:
    """The gRPC server when ``settings.grpc_port`` is set (grpcio is imported only then)."""
    if settings.grpc_port is None:
        return None
    from serving_api.grpc_server import start_grpc_server

    key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    return await start_grpc_server(
        service,
        metrics,
        settings.host,
        settings.grpc_port,
        settings.batch_limit,
        settings.max_body_bytes,
        key,
    )


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus ``Customer`` from churn-core, which the hand-read bodies refer to."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        # The bodies read by hand (the fast path) refer to these; FastAPI only collects the
        # models that appear in signatures.
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        template = "#/components/schemas/{model}"
        components["Customer"] = Customer.model_json_schema(ref_template=template)
        infer = InferRequest.model_json_schema(ref_template=template)
        components.update(infer.pop("$defs", {}))
        components["InferRequest"] = infer
        app.openapi_schema = schema
    return app.openapi_schema


def create_app_from_env() -> ServingAPI:
    """Factory for ``uvicorn --factory`` and for each worker when workers > 1."""
    from serving_api.lean import keep_optional_libraries_out

    keep_optional_libraries_out()
    settings = Settings()
    from churn_core.http_protocol import configure as guarded_http
    from serving_api.logging import configure

    configure(settings.log_level)
    guarded_http(  # this worker's limits
        settings.header_timeout_seconds, settings.max_header_bytes, settings.body_timeout_seconds
    )
    return create_app(settings, server_process=True)
