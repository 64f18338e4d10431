"""The serving image's Dockerfile, checked statically (no Docker engine needed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def text() -> str:
    return DOCKERFILE.read_text()


def instructions(text: str) -> list[tuple[str, str]]:
    """(instruction, arguments), with the global ARGs that parametrise the shared build stage
    (PACKAGE, EXTRAS) filled in with their defaults; BASE_IMAGE stays a parameter."""
    joined = re.sub(r"\\\n", " ", text)
    defaults = dict(
        re.findall(r"^ARG (\w+)=\"?([^\"\n]*)\"?$", text[: text.index("\nFROM ")], re.M)
    )
    joined = re.sub(
        r"\$\{(\w+)\}",
        lambda m: (
            m.group(0) if m.group(1) == "BASE_IMAGE" else defaults.get(m.group(1), m.group(0))
        ),
        joined,
    )
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_base_image_is_a_build_arg_before_the_first_from(text: str) -> None:
    steps = instructions(text)
    assert ("ARG", "BASE_IMAGE=python:3.11-slim") in steps
    first_from = next(i for i, (op, _) in enumerate(steps) if op == "FROM")
    assert steps.index(("ARG", "BASE_IMAGE=python:3.11-slim")) < first_from
    froms = [arg for op, arg in steps if op == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    assert froms[-1] == "${BASE_IMAGE}"


def test_builds_the_venv_of_this_package_only(text: str) -> None:
    """The build stage runs the repository's one venv recipe (docker/build-venv.sh: a frozen,
    no-dev `uv sync --package`; tests/containers/test_dockerfiles.py checks it) for this package."""
    runs = [arg for op, arg in instructions(text) if op == "RUN" and "build-venv.sh" in arg]
    assert len(runs) == 1
    assert runs[0].endswith('build-venv.sh "vertex-predictor" ""')


def test_every_copied_path_exists(text: str) -> None:
    for op, arg in instructions(text):
        if op == "COPY" and "--from" not in arg:
            *sources, _ = arg.split()
            for source in sources:
                assert (REPO / source).exists(), source


def test_runs_as_non_root_the_cpr_server_on_aip_http_port(text: str) -> None:
    steps = instructions(text)
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [arg for op, arg in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(op == "ENV" and "AIP_HTTP_PORT=8080" in arg for op, arg in final)
    assert ("CMD", '["vertex-predictor", "serve"]') in final
    healthcheck = next(arg for op, arg in final if op == "HEALTHCHECK")
    assert "AIP_HTTP_PORT" in healthcheck and "AIP_HEALTH_ROUTE" in healthcheck


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (it is in the workspace dev group)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
