"""kserve 0.21's own Open Inference Protocol clients (InferenceRESTClient with binary and JSON
tensors, InferenceGRPCClient) against a real `serving-api --grpc-port` with an API key.

kserve cannot join this workspace's lock (root pyproject.toml), so its clients run in a
throwaway virtual environment built here with uv from the fully pinned, hashed
tests/clients/kserve-requirements.txt, and tests/clients/kserve_client.py drives them and prints
what the server answered as JSON. This side holds those answers against POST /predict of the
same server, to the last bit. Without the packages (no registry), the tests skip, unless
CHURN_REQUIRE_V2_CLIENTS=1 (CI), which makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from .conftest import CUSTOMER, CUSTOMERS, KEY, serve, v1

CLIENTS = Path(__file__).parent / "clients"
REQUIREMENTS = CLIENTS / "kserve-requirements.txt"
MODES = ("rest-binary", "rest-json", "grpc")
# Bad requests, and the words the error must carry (the field named).
BAD = [
    ({"customers": [{**CUSTOMER, "Age": 5}]}, "Age[0]"),
    ({"customers": [{**CUSTOMER, "Geography": "Mars"}]}, "Geography[0]"),
    ({"customers": [CUSTOMER], "changes": {"Age": {"datatype": "FP32"}}}, "Age: datatype FP32"),
    ({"customers": [CUSTOMER], "changes": {"Balance": {"name": "Surname"}}}, "Surname: unknown"),
]


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CHURN_REQUIRE_V2_CLIENTS") == "1":
        pytest.fail(f"{reason} (CHURN_REQUIRE_V2_CLIENTS=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kserve_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a new virtual environment holding kserve-requirements.txt (uv's cache
    makes a rebuild take seconds). --no-config: the workspace's uv settings (its constraints)
    are not this environment's."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        _unavailable("uv not found: cannot build the kserve client environment")
    venv = tmp_path_factory.mktemp("kserve-clients") / "venv"
    python = venv / "bin" / "python"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    steps = [
        [uv, "venv", "--no-config", "--quiet", "--python", "3.11", str(venv)],
        [uv, "pip", "install", "--no-config", "--quiet", "--python", str(python),
         "--require-hashes", "-r", str(REQUIREMENTS)],
    ]  # fmt: skip
    started = time.monotonic()
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, env=env, timeout=600)
        if done.returncode != 0:
            command = " ".join(step[1:3])
            _unavailable(f"`uv {command}` for the kserve clients failed: {done.stderr[-500:]}")
    print(f"kserve client environment built in {time.monotonic() - started:.1f} s")
    return python


@pytest.fixture(scope="module")
def answers(
    tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path, kserve_python: Path
) -> Iterator[tuple[dict[str, Any], list[list[dict[str, Any]]]]]:
    """What kserve's clients got from a keyed server, and /predict of the same server for
    each batch."""
    served = serve(tmp_path_factory.mktemp("v2-kserve"), bundle_dir, env={"SERVING_API_KEY": KEY})
    try:
        batches = [CUSTOMERS[:1], CUSTOMERS]
        job = {
            "rest": served.url,
            "grpc": served.grpc_address,
            "model": "churn",
            "key": KEY,
            "batches": batches,
            "bad": [case for case, _ in BAD],
        }
        done = subprocess.run(
            [str(kserve_python), str(CLIENTS / "kserve_client.py")],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.splitlines()[-1])
        expected = [v1(served, batch, key=KEY) for batch in batches]
        result["model_version"] = httpx.get(f"{served.url}/readyz").json()["model_version"]
        yield result, expected
    finally:
        served.server.stop()


def test_kserve_is_the_pinned_release(answers: tuple[dict[str, Any], Any]) -> None:
    assert answers[0]["kserve"] == "0.21.0"


@pytest.mark.parametrize("mode", MODES)
def test_health_and_metadata(answers: tuple[dict[str, Any], Any], mode: str) -> None:
    result = answers[0][mode]
    assert result["live"] is True and result["ready"] is True and result["model_ready"] is True
    metadata = result["model_metadata"]
    assert metadata["name"] == "churn" and metadata["versions"] == [answers[0]["model_version"]]
    types = {t["name"]: t["datatype"] for t in metadata["inputs"]}
    assert types["Geography"] == "BYTES" and types["Age"] == "INT64"
    assert types["Balance"] == "FP64"
    assert {t["name"] for t in metadata["outputs"]} == {
        "churn_probability",
        "churn_prediction",
        "risk_level",
    }
    assert result["server_metadata"]["name"] == "serving-api"


@pytest.mark.parametrize("mode", MODES)
def test_infer_equals_predict(answers: tuple[dict[str, Any], Any], mode: str) -> None:
    result, expected = answers
    for got, want in zip(result[mode]["batches"], expected, strict=True):
        assert "ok" in got, got
        if mode != "grpc":  # binary outputs asked for and sent, or JSON
            assert got["ok"].pop("binary") is (mode == "rest-binary")
        assert got["ok"] == {
            "churn_probability": [w["churn_probability"] for w in want],
            "churn_prediction": [w["churn_prediction"] for w in want],
            "risk_level": [w["risk_level"] for w in want],
        }


@pytest.mark.parametrize("mode", MODES)
def test_bad_tensors_name_the_field(answers: tuple[dict[str, Any], Any], mode: str) -> None:
    for got, (_, words) in zip(answers[0][mode]["bad"], BAD, strict=True):
        assert got["status"] == ("INVALID_ARGUMENT" if mode == "grpc" else "400"), got
        assert words in got["message"], got


@pytest.mark.parametrize("mode", MODES)
def test_api_key(answers: tuple[dict[str, Any], Any], mode: str) -> None:
    auth = answers[0][mode]["auth"]
    refused = "UNAUTHENTICATED" if mode == "grpc" else "401"
    assert auth["without_key"]["status"] == refused, auth
    assert auth["wrong_key"]["status"] == refused, auth
    if mode == "grpc":
        assert auth["model_ready_without_key"]["status"] == refused
    else:
        assert auth["model_ready_without_key"] is False  # kserve: any non-2xx is "not ready"
    with_key = auth["with_key"].get("ok", {})
    assert with_key.get("churn_probability") == [answers[1][0][0]["churn_probability"]]
