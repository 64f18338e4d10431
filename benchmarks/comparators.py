"""Servers the serving benchmark measures serving-api against, in the same run.

- ``noop``: a bare ASGI app on the same uvicorn stack and options as serving-api (uvloop,
  httptools, no access log, no server header) answering a fixed 120-byte JSON body: the most
  this HTTP stack can carry on this machine, the ceiling of any app on it.
- ``seed``: what the seed served — FastAPI with a pydantic body model, a scikit-learn Pipeline
  (one-hot encoding + StackingClassifier) on a one-row pandas DataFrame per request, SHAP
  KernelExplainer for ``?explain=true``.
- ``mlserver``: MLServer with mlserver-lightgbm serving the same booster (model.txt of the
  bundle) through its V2 REST infer route, inference in the server process. It is installed into a
  throwaway virtual environment under the user's cache directory (``uv venv`` + ``uv pip
  install``), never into the workspace lock; when that fails the comparator is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from baseline import seed_pipeline
from pydantic import BaseModel

from churn_testing import ServerProcess, free_port

SEED = 7

NOOP_BODY = json.dumps(
    {
        "churn_probability": 0.123456789012345,
        "churn_prediction": 0,
        "risk_level": "LOW",
        "model_version": "noop-0000000000000-s0",
    }
).encode()
MLSERVER_PACKAGES = ("mlserver", "mlserver-lightgbm")
MLSERVER_MODEL = "churn"


# Seconds of busy CPU per request in the no-op (``--work-us``): the no-op stack plus a known
# amount of app work, to read what a goal on req/s leaves an app on this stack.
WORK_SECONDS = 0.0


async def noop_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    """Reads the request body and answers the same JSON, whatever the route."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].replace("startup", "startup.complete")
            await send({"type": kind.replace("shutdown", "shutdown.complete")})
            if message["type"] == "lifespan.shutdown":
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if WORK_SECONDS:
        until = time.perf_counter() + WORK_SECONDS
        while time.perf_counter() < until:
            pass
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(NOOP_BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": NOOP_BODY})


def run_noop_server(port: int, work_us: float = 0.0) -> None:
    import uvicorn

    global WORK_SECONDS
    WORK_SECONDS = work_us / 1e6

    uvicorn.run(
        noop_app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
    )


def start_noop(script: str, work_us: float = 0.0) -> ServerProcess:
    port = free_port()
    command = [sys.executable, script, "--noop-server", "--port", str(port)]
    command += ["--work-us", str(work_us)]
    return ServerProcess(command, f"http://127.0.0.1:{port}", "/readyz", name="noop")


# ---- MLServer ---------------------------------------------------------------------------------


def mlserver_env() -> Path | None:
    """The throwaway venv's bin directory with MLServer installed, or None (with a message)."""
    uv = shutil.which("uv")
    if uv is None:
        print("MLServer comparator skipped: uv is not on PATH")
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    venv = cache / "churn-bench" / "mlserver-venv"
    binary = venv / "bin" / "mlserver"
    if not binary.is_file():
        print(f"installing {', '.join(MLSERVER_PACKAGES)} into {venv} (once) …", flush=True)
        try:
            subprocess.run(
                [uv, "venv", "--quiet", "--python", "3.11", str(venv)],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [
                    uv,
                    "pip",
                    "install",
                    "--quiet",
                    "--python",
                    str(venv / "bin" / "python"),
                    *list(MLSERVER_PACKAGES),
                ],
                check=True,
                capture_output=True,
                timeout=900,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            detail = getattr(error, "stderr", b"") or b""
            print(f"MLServer comparator skipped: install failed: {detail.decode()[-400:]}")
            return None
    return binary.parent


def start_mlserver(bin_dir: Path, model_file: Path, workdir: Path) -> ServerProcess:
    """MLServer on a fresh port serving ``model_file``; its settings files go in ``workdir``."""
    port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    model_dir = workdir / MLSERVER_MODEL
    model_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_file, model_dir / "model.txt")
    (model_dir / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MLSERVER_MODEL,
                "implementation": "mlserver_lightgbm.LightGBMModel",
                "parameters": {"uri": "./model.txt"},
            }
        )
    )
    (workdir / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": port,
                "grpc_port": grpc_port,
                "metrics_port": metrics_port,
                "debug": False,
                # Inference in the server process, like serving-api's one process: MLServer
                # 1.7.1's separate inference worker fails to start with uvloop >= 0.22 ("no
                # current event loop"), and for a model this small the hop costs more anyway.
                "parallel_workers": 0,
            }
        )
    )
    command = [str(bin_dir / "mlserver"), "start", str(workdir)]
    # One OpenMP thread, as serving-api predicts one row: LightGBM's default of one thread per
    # core made each of MLServer's one-row predictions wait ~20 ms for descheduled OpenMP
    # threads on this loaded shared machine, which measures the machine, not the server.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # its own venv only
    return ServerProcess(
        command,
        f"http://127.0.0.1:{port}",
        f"/v2/models/{MLSERVER_MODEL}/ready",
        name="mlserver",
        env=env,
        cwd=workdir,
        process_group=True,  # its metrics server and any workers are child processes
    )


def mlserver_body(model_row: list[float]) -> bytes:
    """The V2 infer body for one customer's model-feature row (what the booster takes)."""
    tensor = {"name": "input-0", "shape": [1, len(model_row)], "datatype": "FP64"}
    return json.dumps({"inputs": [{**tensor, "data": model_row}]}).encode()


# ---- the seed-style service ---------------------------------------------------------------------


class CustomerIn(BaseModel):
    """The seed's request model (module level: FastAPI resolves string annotations here)."""

    CreditScore: int
    Geography: str
    Gender: str
    Age: int
    Tenure: int
    Balance: float
    NumOfProducts: int
    HasCrCard: int
    IsActiveMember: int
    EstimatedSalary: float


def baseline_app(rows: int):
    import numpy as np
    import pandas as pd
    import shap
    from fastapi import FastAPI

    from churn_core.data import generate
    from churn_core.schema import FEATURE_NAMES

    model = seed_pipeline(rows, seed=SEED)
    preprocess, stack = model.named_steps["preprocess"], model.named_steps["model"]
    data = generate(rows, seed=SEED)
    background = shap.kmeans(preprocess.transform(data[list(FEATURE_NAMES)].head(500)), 10)
    explainer = shap.KernelExplainer(lambda m: stack.predict_proba(m)[:, 1], background)

    app = FastAPI(title="seed-style baseline")

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/predict")
    def predict(customer: CustomerIn, explain: bool = False) -> dict[str, Any]:
        frame = pd.DataFrame([customer.model_dump()])
        probability = float(model.predict_proba(frame)[0, 1])
        out: dict[str, Any] = {
            "churn_probability": probability,
            "churn_prediction": int(probability >= 0.5),
            "risk_level": "LOW" if probability < 0.3 else "MEDIUM" if probability < 0.7 else "HIGH",
        }
        if explain:
            values = explainer.shap_values(preprocess.transform(frame), nsamples=200, silent=True)
            names = preprocess.get_feature_names_out()
            out["feature_contributions"] = dict(
                zip(names, map(float, np.ravel(values)), strict=True)
            )
            out["base_value"] = float(np.ravel(explainer.expected_value)[0])
        return out

    return app


def run_baseline_server(port: int, rows: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(rows), host="127.0.0.1", port=port, log_level="warning")


def start_baseline(script: str, rows: int) -> ServerProcess:
    port = free_port()
    command = [sys.executable, script, "--baseline-server", "--port", str(port)]
    command += ["--rows", str(rows)]
    return ServerProcess(command, f"http://127.0.0.1:{port}", "/readyz", name="baseline")
