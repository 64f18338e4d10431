"""``serving-api``: check (or first train) the model bundle, then serve it with uvicorn.

Exit codes: 0 after a clean shutdown, 2 for a bad model directory or bad settings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from serving_api.config import DEFAULT_MODEL_DIR, Settings


def parse_args(argv: Sequence[str] | None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="serving-api",
        description="Serve the churn model over HTTP (settings also from SERVING_* variables).",
    )
    parser.add_argument("--model-dir", type=Path, help="model bundle (default artifacts/model)")
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument(
        "--grpc-port",
        type=int,
        help="also serve Open Inference Protocol V2 over gRPC on this port (default: off; "
        "needs the grpc extra, which the container image has)",
    )
    parser.add_argument("--workers", type=int, help="worker processes (default 1: one per pod)")
    parser.add_argument("--batch-limit", type=int, help="most customers per batch (default 1000)")
    parser.add_argument("--capture-dir", type=Path, help="capture directory (artifacts/capture)")
    parser.add_argument(
        "--no-capture", dest="capture_enabled", action="store_const", const=False, default=None
    )
    parser.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument(
        "--access-log", dest="access_log", action="store_const", const=True, default=None
    )
    return {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}


def fail(message: str) -> int:
    print(f"serving-api: {' '.join(message.split())}", file=sys.stderr)
    return 2


def train_default_model(model_dir: Path) -> int:
    """Train into a temporary sibling directory, then rename: a crash leaves no half bundle."""
    print(f"serving-api: no model bundle at {model_dir}; training the default model", flush=True)
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}-", dir=model_dir.parent))
    # mkdtemp makes it 0700; a bundle is not secret, and a container's own user (uid 10001)
    # must be able to read it when it is mounted, so give it the umask's usual mode.
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    try:
        # A child process (churn-core's own `train` command, with its progress display):
        # scikit-learn, pandas and the training code never enter the serving process.
        code = subprocess.call(
            [sys.executable, "-m", "churn_core.cli", "train", "--out", str(staging)]
        )
        if code != 0:
            return code
        if model_dir.exists():  # an empty directory, or one without a manifest
            shutil.rmtree(model_dir)
        staging.rename(model_dir)
        return 0
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _export(settings: Settings) -> None:
    """Hand the resolved settings to worker processes through the environment."""
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Path):
            value = str(value.resolve())
        elif isinstance(value, bool):
            value = "true" if value else "false"
        os.environ[f"SERVING_{name.upper()}"] = str(value)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = Settings(**parse_args(argv))
    except ValidationError as exc:
        first = exc.errors()[0]
        return fail(f"invalid setting {'.'.join(map(str, first['loc']))}: {first['msg']}")

    if settings.grpc_port is not None:
        try:
            import grpc  # noqa: F401  (the app imports it again; checked here for a clear exit)
        except ImportError:
            return fail("--grpc-port needs grpcio: install serving-api[grpc]")

    from serving_api.lean import keep_optional_libraries_out

    keep_optional_libraries_out()
    from serving_api.logging import configure, log_config

    configure(settings.log_level)

    model_dir = settings.model_dir
    chosen = "model_dir" in settings.model_fields_set
    if not chosen and model_dir == DEFAULT_MODEL_DIR and not (model_dir / "manifest.json").exists():
        code = train_default_model(model_dir)
        if code != 0:
            return fail(f"training the default model failed (exit code {code})")

    from churn_core import BundleError, Predictor

    predictor: Predictor | None = None
    try:
        predictor = Predictor.from_bundle(model_dir)
    except BundleError as exc:
        # A missing or refused bundle never kills the server: it serves /readyz 503 with the
        # reason (the app's loader meets the same error), and the log says why.
        print(f"serving-api: {exc}", file=sys.stderr, flush=True)
    except Exception as exc:  # an unreadable directory is a bad --model-dir too
        return fail(f"cannot load model bundle {model_dir}: {type(exc).__name__}: {exc}")

    import uvicorn

    from churn_core.http_protocol import configure as guarded_http

    common: dict[str, Any] = {
        "http": guarded_http(
            settings.header_timeout_seconds,
            settings.max_header_bytes,
            settings.body_timeout_seconds,
        ),
        "timeout_keep_alive": settings.keep_alive_seconds,
        "host": settings.host,
        "port": settings.port,
        "log_config": log_config(settings.log_level),
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": 30,
    }
    if settings.workers == 1:
        from serving_api.app import create_app

        app = create_app(settings, predictor=predictor, server_process=True)
        uvicorn.Server(uvicorn.Config(app, lifespan="on", **common)).run()
        return 0

    # Several workers: each loads the bundle; metrics go through prometheus multiprocess files.
    del predictor
    metrics_dir = tempfile.mkdtemp(prefix="serving-api-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    _export(settings)
    try:
        uvicorn.run(
            "serving_api.app:create_app_from_env",
            factory=True,
            workers=settings.workers,
            **common,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
