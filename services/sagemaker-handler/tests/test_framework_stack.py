"""The tarball on AWS's own scikit-learn serving stack: sagemaker_containers, nginx, gunicorn.

What runs: a venv of the image's Python with every pin of the image's requirements.txt from PyPI
(tests/framework_images/), patched as the image's Dockerfile patches it; Debian's nginx; the
model laid out as SageMaker lays it (model.tar.gz extracted to /opt/ml/model,
SAGEMAKER_PROGRAM=inference.py, SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code); and the
image's start-up: its `serve` entry point calls sagemaker_containers' server.start, which
pip-installs the code directory and its requirements.txt, writes /etc/sagemaker-nginx.conf,
starts nginx on :8080 and gunicorn with gevent workers on /tmp/gunicorn.sock, each worker
importing the serving module. That module (the image's serving.py, a short layer over
sagemaker_containers' Transformer and Worker) is re-written here as GLUE.

Where it runs, and why there: the stack writes fixed paths (/opt/ml, /etc/sagemaker-nginx.conf,
/tmp/gunicorn.sock, pip into its interpreter) and binds 0.0.0.0:8080. A container on CI's Docker
daemon would need an image build with ~60 wheels on vfs per run; instead, as root, the stack
runs in a private mount and network namespace (`unshare --mount --net`): /etc, /opt, /var and
the cached venv are overlays whose writes land in a tmpfs, /tmp is a fresh tmpfs, and the only
network is the namespace's own loopback, so port 8080 and every write vanish with the
namespace and nothing of the host is touched. The client reaches that loopback with
`nsenter --net`. Skipped (with the reason) when not root or a tool is missing, unless
CHURN_REQUIRE_SAGEMAKER_STACK=1 (set by .ci/run): then that is a failure.

Venvs are cached in ~/.cache/churn-platform/sagemaker-stack, keyed by the pins file, the
interpreter and this file's build recipe; the first build takes about two minutes per stack.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sagemaker_handler.packaging import SUPPORTED_IMAGES, extract_tarball, read_runtime

from .smh_helpers import (
    BAD_CSV_CELLS,
    FEATURES,
    MALFORMED_BODIES,
    UNSUPPORTED_ACCEPTS,
    UNSUPPORTED_CONTENT_TYPES,
    csv_rows,
)

pytestmark = [pytest.mark.sagemaker_stack, pytest.mark.slow]

IMAGES = Path(__file__).parent / "framework_images"
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "churn-platform"
REQUIRED = os.environ.get("CHURN_REQUIRE_SAGEMAKER_STACK") == "1"


@dataclass(frozen=True)
class Stack:
    image: str  # the image version as packaging.SUPPORTED_IMAGES names it
    python: Path
    pins: Path
    # Pins of the image's own requirements.txt that do not resolve as one set, forced as the
    # image forces them (see the pins file).
    overrides: tuple[str, ...] = ()


STACKS = [
    Stack("1.4-2", PYENV / "3.10.13/bin/python3.10", IMAGES / "sklearn-1.4-2-py310.txt"),
    Stack(
        "1.4-2-py312",
        PYENV / "3.12.1/bin/python3.12",
        IMAGES / "sklearn-1.9-py312.txt",
        overrides=("flask==3.1.3",),
    ),
]

# The image's serving module, written anew: import the user module (installing it the way
# sagemaker_containers does when it is not importable yet), wrap its handler functions in a
# Transformer, serve it with the framework's Flask Worker; `python -m` starts the server.
GLUE = """
import importlib

from sagemaker_containers.beta.framework import env, modules, server, transformer, worker

_app = None


def _user_module(serving_env):
    try:
        return importlib.import_module(serving_env.module_name)
    except ImportError:
        return modules.import_module(serving_env.module_dir, serving_env.module_name)


def _build_app():
    serving_env = env.ServingEnv()
    user = _user_module(serving_env)
    functions = {
        name: getattr(user, name)
        for name in ("model_fn", "input_fn", "predict_fn", "output_fn")
        if hasattr(user, name)
    }
    model_transformer = transformer.Transformer(**functions)
    model_transformer.initialize()
    return worker.Worker(
        transform_fn=model_transformer.transform, module_name=serving_env.module_name
    )


def main(environ, start_response):
    global _app
    if _app is None:
        _app = _build_app()
    return _app(environ, start_response)


if __name__ == "__main__":
    server.start(env.ServingEnv().framework_module)
"""

# Runs as root inside `unshare --mount --net`: $1 scratch dir, $2 venv, $3 tarball, $4 glue,
# $5 wheelhouse (the namespace has no route to PyPI; pip installs from there, see wheelhouse()).
NAMESPACE_SETUP = r"""
set -eu
scratch=$1 venv=$2 tarball=$3 glue=$4 wheelhouse=$5
ip link set lo up
mount -t tmpfs tmpfs "$scratch"
for dir in /etc /opt /var "$venv"; do
  layer=$scratch/layers/$(echo "$dir" | tr / _)
  mkdir -p "$layer/upper" "$layer/work"
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir"
done
mkdir -p /opt/ml/model /opt/wheelhouse
mount --bind "$wheelhouse" /opt/wheelhouse
tar -xzf "$tarball" -C /opt/ml/model
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp "$glue" "$site/churn_sklearn_serving.py"
mount -t tmpfs tmpfs /tmp
mkdir -p /tmp/home
cd /
exec "$venv/bin/python" -m churn_sklearn_serving
"""

# The client, run in the namespace's network: one request in on stdin, the answer out.
CLIENT = r"""
import base64, http.client, json, sys
spec = json.load(sys.stdin)
connection = http.client.HTTPConnection("127.0.0.1", 8080, timeout=60)
try:
    body = base64.b64decode(spec["body"])
    connection.request(spec["method"], spec["path"], body, spec["headers"])
    response = connection.getresponse()
    out = {"status": response.status, "headers": dict(response.getheaders()),
           "body": base64.b64encode(response.read()).decode()}
except OSError as exc:
    out = {"status": 0, "headers": {}, "body": base64.b64encode(str(exc).encode()).decode()}
print(json.dumps(out))
"""


def unavailable(stack: Stack) -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "the stack runs as root in a private mount and network namespace"
    for tool in ("unshare", "nsenter", "nginx", "ip", "uv", "tar"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (nginx: .ci/system-deps)"
    if not stack.python.exists():
        return f"the image's Python is not here ({stack.python}; pyenv)"
    return None


VENV_RECIPE = "1"  # bump when stack_venv changes how a venv is built


def wheelhouse(venv: Path, tarball: Path, dest: Path) -> Path:
    """What the container's pip fetches from PyPI at start-up, fetched beforehand by the same
    interpreter: code/requirements.txt and the build backend of `pip install .`."""
    code = extract_tarball(tarball, dest / "model") / "code"
    pip = [str(venv / "bin/python"), "-m", "pip", "download", "--quiet", "-d", str(dest / "wheels")]
    run([*pip, "-r", "requirements.txt", "setuptools", "wheel"], cwd=code)
    return dest / "wheels"


def venv_key(stack: Stack) -> str:
    pins = [line for line in stack.pins.read_text().splitlines() if not line.startswith("#")]
    parts = [VENV_RECIPE, str(stack.python), *stack.overrides, *pins]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def run(command: list[str], **kwargs: Any) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, (
        f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )


def stack_venv(stack: Stack) -> Path:
    """The image's Python with the image's pins, built once per recipe and reused."""
    venv = CACHE / "sagemaker-stack" / f"{stack.python.name}-{venv_key(stack)}"
    if (venv / ".complete").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    run(["uv", "venv", "--quiet", "--seed", "--python", str(stack.python), str(venv)])
    install = ["uv", "pip", "install", "--quiet", "--python", str(venv / "bin/python")]
    install += ["-r", str(stack.pins)]
    if stack.overrides:
        overrides = venv / "overrides.txt"
        overrides.write_text("\n".join(stack.overrides) + "\n")
        install += ["--override", str(overrides)]
    run(install, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    # As the image's Dockerfile does: sagemaker_containers still says collections.Mapping.
    for mapping in venv.glob("lib/python3*/site-packages/sagemaker_containers/_mapping.py"):
        text = mapping.read_text()
        mapping.write_text(text.replace("collections.Mapping", "collections.abc.Mapping"))
    (venv / ".complete").write_text(stack.image + "\n")
    return venv


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return {k.lower(): v for k, v in self.headers.items()}.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RunningStack:
    stack: Stack
    venv: Path
    process: subprocess.Popen[bytes]
    log: Path

    def request(self, method: str, path: str, body: bytes | str = b"", **headers: str) -> Answer:
        data = body.encode() if isinstance(body, str) else body
        spec = {
            "method": method,
            "path": path,
            "body": base64.b64encode(data).decode(),
            "headers": {key.replace("_", "-"): value for key, value in headers.items()},
        }
        command = ["nsenter", "--target", str(self.process.pid), "--net", "--"]
        command += [sys.executable, "-I", "-c", CLIENT]
        done = subprocess.run(
            command, input=json.dumps(spec), capture_output=True, text=True, timeout=90
        )
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        return Answer(out["status"], out["headers"], base64.b64decode(out["body"]))

    def invoke(self, body: Any, content_type: str = "application/json", **headers: str) -> Answer:
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        return self.request("POST", "/invocations", body, Content_Type=content_type, **headers)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def wait_for_ping(running: RunningStack, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    answer = Answer(0, {}, b"")
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            pytest.fail(f"the framework's server exited:\n{running.log_tail()}")
        answer = running.request("GET", "/ping")
        if answer.status == 200:
            return
        time.sleep(1.0)
    pytest.fail(f"/ping never answered 200 (last {answer.status}):\n{running.log_tail()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # the framework's SIGTERM handler stops nginx and gunicorn
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything left in the namespace
    process.wait()


@pytest.fixture(scope="module", params=STACKS, ids=lambda stack: stack.image)
def running(
    request: pytest.FixtureRequest, tarball: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    stack: Stack = request.param
    reason = unavailable(stack)
    if reason:
        if REQUIRED:
            pytest.fail(f"CHURN_REQUIRE_SAGEMAKER_STACK=1 but: {reason}")
        pytest.skip(reason)
    venv = stack_venv(stack)
    work = tmp_path_factory.mktemp("sagemaker-stack")
    (work / "scratch").mkdir()
    glue = work / "churn_sklearn_serving.py"
    glue.write_text(GLUE)
    log = work / "server.log"
    environment = {
        "PATH": f"{venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/tmp/home",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_SERVING_MODULE": "churn_sklearn_serving:main",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "SAGEMAKER_REGION": "us-east-1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "/opt/wheelhouse",
    }
    command = ["unshare", "--mount", "--net", "--propagation", "private", "--"]
    command += ["sh", "-c", NAMESPACE_SETUP, "sh", str(work / "scratch"), str(venv)]
    command += [str(tarball), str(glue), str(wheelhouse(venv, tarball, work))]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=environment, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = RunningStack(stack, venv, process, log)
    try:
        wait_for_ping(running)
        yield running
    finally:
        stop(process)


def probabilities(answer: Answer) -> list[float]:
    return [p["churn_probability"] for p in answer.json()["predictions"]]


def assert_same_as_churn_core(served: list[float], predictor: Any, customers: list[Any]) -> None:
    expected = [p.churn_probability for p in predictor.predict(customers)]
    assert len(served) == len(expected)
    assert max(abs(a - b) for a, b in zip(served, expected, strict=True)) <= 1e-9


def assert_client_error(answer: Answer, status: int, running: RunningStack) -> dict[str, Any]:
    assert answer.status == status, (answer, running.log_tail())
    assert answer.content_type.startswith("application/json")
    assert b"Traceback" not in answer.body and b'File "' not in answer.body
    assert b"stack-trace" not in answer.body and b"<html" not in answer.body.lower()
    return answer.json()


VERSIONS = r"""
import json, platform
from importlib.metadata import version
names = ["numpy", "scikit-learn", "sagemaker-containers", "flask", "gunicorn", "gevent",
         "setuptools"]
print(json.dumps({"python": platform.python_version(), **{n: version(n) for n in names}}))
"""


def test_the_stack_is_the_image_the_tarball_claims(running: RunningStack, tarball: Path):
    """The versions that served, read from the venv the server ran in, are the claimed ones."""
    (claimed,) = [
        i for i in read_runtime(tarball)["supported_images"] if i["image"] == running.stack.image
    ]
    done = subprocess.run(
        [str(running.venv / "bin/python"), "-c", VERSIONS],
        capture_output=True,
        text=True,
        check=True,
    )
    served = json.loads(done.stdout)
    print(f"{running.stack.image}: {served}")  # the versions, in the -rA / -s output
    assert served["python"].rsplit(".", 1)[0] == claimed["python"]
    for name, version in claimed["image_packages"].items():
        assert served[name] == version
    assert served["sagemaker-containers"] == "2.8.6.post2"


def test_ping(running: RunningStack):
    answer = running.request("GET", "/ping")
    assert answer.status == 200


def test_one_list_and_instances_match_churn_core(running, customers, predictor):
    one = running.invoke(customers[0])
    assert one.status == 200, running.log_tail()
    assert one.content_type.startswith("application/json")
    assert one.json()["model_version"] == predictor.model_version
    assert_same_as_churn_core(probabilities(one), predictor, customers[:1])
    for body in (customers, {"instances": customers}):
        answer = running.invoke(body)
        assert answer.status == 200
        assert_same_as_churn_core(probabilities(answer), predictor, customers)


def test_csv_and_json_lines(running, customers, predictor):
    answer = running.invoke(csv_rows(customers), "text/csv")
    assert answer.status == 200
    assert_same_as_churn_core(probabilities(answer), predictor, customers)
    lines = "".join(json.dumps(c) + "\n" for c in customers)
    answer = running.invoke(lines, "application/jsonlines", Accept="application/jsonlines")
    assert answer.status == 200
    assert answer.content_type.startswith("application/jsonlines")
    served = [json.loads(line)["churn_probability"] for line in answer.body.decode().splitlines()]
    assert_same_as_churn_core(served, predictor, customers)


def test_content_type_with_charset_comes_as_bytes_and_works(running, customers, predictor):
    answer = running.invoke(customers[:3], "application/json; charset=utf-8")
    assert answer.status == 200
    assert_same_as_churn_core(probabilities(answer), predictor, customers[:3])


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/html, */*", "application/json"),
        ("text/csv", "text/csv"),
        ("application/jsonlines", "application/jsonlines"),
    ],
)
def test_each_accept(running, customers, predictor, accept, expected):
    headers = {} if accept is None else {"Accept": accept}
    answer = running.invoke(customers[:5], **headers)
    assert answer.status == 200
    assert answer.content_type.startswith(expected)
    if expected == "text/csv":
        rows = list(csv.reader(io.StringIO(answer.body.decode())))
        assert_same_as_churn_core([float(r[0]) for r in rows], predictor, customers[:5])


def test_explain_in_parameters_and_in_the_custom_attributes_header(running, customers):
    def check(predictions: list[dict[str, Any]]) -> None:
        assert len(predictions) == 5
        for p in predictions:
            assert set(p["feature_contributions"]) == set(FEATURES)
            total = p["base_value"] + sum(p["feature_contributions"].values())
            assert abs(total - p["churn_probability"]) <= 1e-6

    answer = running.invoke({"instances": customers[:5], "parameters": {"explain": True}})
    assert answer.status == 200
    check(answer.json()["predictions"])
    answer = running.invoke(
        csv_rows(customers[:5]), "text/csv",
        X_Amzn_SageMaker_Custom_Attributes="trace=abc, explain=true",
    )  # fmt: skip
    assert answer.status == 200
    check(answer.json()["predictions"])
    answer = running.invoke(
        customers[:5], Accept="text/csv", X_Amzn_SageMaker_Custom_Attributes="explain=true"
    )
    for row in csv.reader(io.StringIO(answer.body.decode())):
        assert len(row) == 4 + 1 + len(FEATURES)
        assert abs(sum(map(float, row[4:])) - float(row[0])) <= 1e-6
    plain = running.invoke(customers[:1])
    assert "feature_contributions" not in plain.json()["predictions"][0]


@pytest.mark.parametrize("content_type", UNSUPPORTED_CONTENT_TYPES)
def test_unsupported_content_type_is_415(running, customers, content_type):
    answer = running.invoke(json.dumps(customers[0]), content_type)
    assert "unsupported content type" in assert_client_error(answer, 415, running)["error"]


@pytest.mark.parametrize("accept", UNSUPPORTED_ACCEPTS)
def test_unsupported_accept_is_406(running, customers, accept):
    answer = running.invoke(customers[0], Accept=accept)
    assert "unsupported accept" in assert_client_error(answer, 406, running)["error"]


def test_bad_json_fields_are_400_naming_each_field(running, customers):
    bad = [dict(customers[0]), {**customers[1], "Age": "45", "Geography": "Mars"}]
    del bad[0]["Tenure"]
    body = assert_client_error(running.invoke(bad), 400, running)
    assert {(e["index"], e["field"]) for e in body["errors"]} == {
        (0, "Tenure"), (1, "Age"), (1, "Geography"),
    }  # fmt: skip


@pytest.mark.parametrize(("row", "field"), BAD_CSV_CELLS)
def test_bad_csv_cell_is_400_naming_the_field(running, row, field):
    body = assert_client_error(running.invoke(row + "\n", "text/csv"), 400, running)
    assert [e["field"] for e in body["errors"]] == [field]
    assert field in body["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        *MALFORMED_BODIES,
        # JSON and CSV bodies reach input_fn as text Flask decoded with errors="replace", so
        # bytes that are not UTF-8 are a malformed row here, not "not UTF-8" as on `serve`.
        (b"\xff\xfe", "text/csv", "expected 10 columns"),
    ],
)
def test_malformed_bodies_are_400(running, body, content_type, message):
    assert message in assert_client_error(running.invoke(body, content_type), 400, running)["error"]


def test_a_bad_body_wins_over_a_bad_accept_as_on_our_server(running, customers):
    answer = running.invoke("{", Accept="application/xml")
    assert "not valid JSON" in assert_client_error(answer, 400, running)["error"]
    answer = running.invoke("{}", "text/plain", Accept="application/xml")
    assert_client_error(answer, 415, running)


def test_the_stack_installed_the_tarball_requirements_once(running: RunningStack):
    """The framework pip-installs code/requirements.txt before gunicorn starts; a failing
    import would make every worker install again on each request."""
    log = running.log.read_text(errors="replace")
    assert "ImportModuleError" not in log and "ImportError" not in log
    (installed,) = [line for line in log.splitlines() if line.startswith("Successfully installed")]
    assert " churn-core-" in installed and " lightgbm-" in installed


def test_the_oldest_and_newest_supported_images_are_the_ones_served_here(tarball: Path):
    runtime = read_runtime(tarball)
    assert runtime["supported_images"] == SUPPORTED_IMAGES
    oldest, newest = SUPPORTED_IMAGES[0]["image"], SUPPORTED_IMAGES[-1]["image"]
    assert [stack.image for stack in STACKS] == [oldest, newest]
