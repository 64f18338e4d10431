"""Running ChurnPredictor inside aiplatform's own CprModelServer, configured as Vertex does it.

Vertex passes its settings to the container as AIP_* environment variables; CprModelServer
reads them (and HANDLER_*/PREDICTOR_* to find our classes) when uvicorn builds the app. The
handler loads the model while the app is being built, before uvicorn binds the port, so the
health route cannot answer until the model is loaded and warmed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from vertex_predictor.config import settings

# aiplatform's CprModelServer, with a health route that reports a refused or missing bundle.
MODEL_SERVER_FACTORY = "vertex_predictor.handler:ChurnModelServer"
DEFAULT_PORT = 8080
DEFAULT_HEALTH_ROUTE = "/health"
DEFAULT_PREDICT_ROUTE = "/predict"


def server_environment(
    environ: Mapping[str, str],
    model_dir: str | None = None,
    port: int | None = None,
) -> dict[str, str]:
    """The AIP_*/HANDLER_*/PREDICTOR_* settings CprModelServer needs.

    Explicit arguments win over the environment; the environment wins over the defaults.
    """
    storage_uri = model_dir or environ.get("AIP_STORAGE_URI")
    if not storage_uri:
        raise ValueError("no model bundle: pass --model-dir or set AIP_STORAGE_URI")
    return {
        "AIP_STORAGE_URI": storage_uri,
        "AIP_HTTP_PORT": str(port or environ.get("AIP_HTTP_PORT") or DEFAULT_PORT),
        "AIP_HEALTH_ROUTE": environ.get("AIP_HEALTH_ROUTE") or DEFAULT_HEALTH_ROUTE,
        "AIP_PREDICT_ROUTE": environ.get("AIP_PREDICT_ROUTE") or DEFAULT_PREDICT_ROUTE,
        "HANDLER_MODULE": "vertex_predictor.handler",
        "HANDLER_CLASS": "ChurnHandler",
        "PREDICTOR_MODULE": "vertex_predictor.predictor",
        "PREDICTOR_CLASS": "ChurnPredictor",
    }


def serve(
    model_dir: str | None = None,
    port: int | None = None,
    host: str = "0.0.0.0",  # noqa: S104 - a container must listen on all interfaces
    workers: int | None = None,
    environ: MutableMapping[str, str] = os.environ,
) -> None:
    import uvicorn

    environ.update(server_environment(environ, model_dir, port))
    config = settings()
    uvicorn.run(
        MODEL_SERVER_FACTORY,
        factory=True,
        host=host,
        port=int(environ["AIP_HTTP_PORT"]),
        workers=workers or config.web_concurrency,
        log_level=config.log_level.lower(),
    )
