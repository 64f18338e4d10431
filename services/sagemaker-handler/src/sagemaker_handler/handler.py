"""The SageMaker inference handler contract, without HTTP (server.py serves it).

Like the AWS container: the tarball is extracted to a model directory, ``code/inference.py`` is
imported from that directory by file path, model_fn runs once (/ping answers 503 until it has),
then each POST /invocations is input_fn → predict_fn → output_fn. So this runs the same file, from
the same tarball, that SageMaker will run.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from churn_core.heap import freeze_loaded_heap
from sagemaker_handler.packaging import CODE_DIR, extract_tarball, inference_source

log = logging.getLogger("sagemaker_handler.handler")

HANDLER_FUNCTIONS = ("model_fn", "input_fn", "predict_fn", "output_fn")


def model_dir_from(path: str | Path, workdir: str | Path) -> Path:
    """A directory as is (BYOC: SageMaker already extracted /opt/ml/model); a tarball extracted."""
    path = Path(path)
    if path.is_dir():
        return path
    if not path.is_file():
        raise FileNotFoundError(f"model not found: {path}")
    return extract_tarball(path, Path(workdir) / "model")


def import_inference(model_dir: Path) -> ModuleType:
    script = model_dir / CODE_DIR / "inference.py"
    if not script.is_file():
        raise FileNotFoundError(f"{script} is missing: package the model with `package`")
    spec = importlib.util.spec_from_file_location("inference", script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as a real import would; dataclasses look themselves up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    missing = [name for name in HANDLER_FUNCTIONS if not callable(getattr(module, name, None))]
    if missing:
        raise ImportError(f"{script} does not define {', '.join(missing)}")
    return module


class _RequestProcessor:
    def __init__(self, headers: dict[str, str]):
        self._headers = headers

    def get_request_properties(self) -> dict[str, str]:
        return self._headers


class RequestContext:
    """The slice of the inference toolkit's Context that handler functions may read."""

    def __init__(self, headers: dict[str, str]):
        self.request_processor = [_RequestProcessor(headers)]


def _call(fn: Any, *args: Any, context: RequestContext) -> Any:
    # As the toolkit does: pass the context only to functions that take one more argument.
    return fn(*args, context) if _parameter_count(fn) == len(args) + 1 else fn(*args)


@functools.cache
def _parameter_count(fn: Any) -> int:
    """Read once per function: ``inspect.signature`` on every call took a quarter of a
    one-customer invocation's time (py-spy under load)."""
    return len(inspect.signature(fn).parameters)


def refuse_foreign_code(model_dir: Path) -> None:
    """Under a trust policy, run only this image's inference.py.

    model.sig covers the bundle, not ``code/``: whoever can rewrite the tarball could replace
    the verifier itself. With trusted keys configured, the tarball's code/inference.py must be
    byte for byte the one installed here, or the model is refused before any of it runs.
    """
    from churn_core.signing import TRUST_ENV, SignatureError

    if not os.environ.get(TRUST_ENV, "").strip():
        return
    script = model_dir / CODE_DIR / "inference.py"
    if not script.is_file() or script.read_bytes() != inference_source():
        raise SignatureError(f"{script} is not this image's inference code; refusing to run it")


@dataclass
class HandlerState:
    module: ModuleType | None = None
    model: Any = None
    ready: threading.Event = field(default_factory=threading.Event)
    failed: str | None = None

    def load(self, model_dir: Path, freeze_heap: bool = False) -> None:
        """Import inference.py and run its model_fn; ``freeze_heap`` (the server process's, not
        a test's): then freeze every live object out of garbage collection before /ping says
        ready (churn_core/heap.py)."""
        started = time.perf_counter()
        refuse_foreign_code(model_dir)
        self.module = import_inference(model_dir)
        self.model = self.module.model_fn(str(model_dir))
        frozen = freeze_loaded_heap() if freeze_heap else 0
        self.ready.set()
        log.info(
            "model_fn finished in %.2fs; ready (%d objects frozen out of garbage collection)",
            time.perf_counter() - started,
            frozen,
        )

    def invoke(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        """(status, body, content type) for one invocation; ``headers`` with lower-case names.

        CPU-bound and blocking: the server calls it on a worker thread, never on its event loop.
        """
        if self.module is None:
            raise RuntimeError("invoke() before load(): the handler module is not imported")
        content_type = headers.get("content-type") or headers.get("contenttype") or ""
        accept = headers.get("accept") or "application/json"
        context = RequestContext(headers)
        try:
            data = _call(self.module.input_fn, body, content_type, context=context)
            prediction = _call(self.module.predict_fn, data, self.model, context=context)
            result = _call(self.module.output_fn, prediction, accept, context=context)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500:
                payload = exc.as_dict() if hasattr(exc, "as_dict") else {"error": str(exc)}
                return status, json.dumps(payload).encode(), "application/json"
            log.exception("invocation failed")  # the trace goes to the log, never to the client
            return 500, b'{"error": "internal error"}', "application/json"
        if isinstance(result, tuple):
            response, response_type = result[0], result[1]
        else:
            response, response_type = result, accept
        data = response.encode() if isinstance(response, str) else bytes(response)
        return 200, data, response_type
