"""The five Dockerfiles follow one pattern: the same build stage, parametrised by global ARGs,
running the one venv recipe (docker/build-venv.sh) with the uv range pinned once in
pyproject.toml, and a runtime stage as uid 10001. No Docker needed."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = {
    "churn-core": ROOT / "packages/churn-core/Dockerfile",
    "churn-spark": ROOT / "packages/churn-core/Dockerfile.spark",
    "serving-api": ROOT / "services/serving-api/Dockerfile",
    "sagemaker-handler": ROOT / "services/sagemaker-handler/Dockerfile",
    "vertex-predictor": ROOT / "services/vertex-predictor/Dockerfile",
}


def stages(text: str) -> list[str]:
    """The text of each stage, from its FROM line to the next FROM."""
    starts = [m.start() for m in re.finditer(r"^FROM ", text, flags=re.MULTILINE)]
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def global_args(text: str) -> dict[str, str]:
    head = text[: text.index("\nFROM ")]
    return dict(re.findall(r"^ARG (\w+)=\"?([^\"\n]*)\"?$", head, flags=re.MULTILINE))


def test_every_image_has_the_same_build_stage():
    builds = {name: stages(path.read_text())[0] for name, path in DOCKERFILES.items()}
    assert all(stage.startswith("FROM ${BASE_IMAGE} AS build\n") for stage in builds.values())
    assert len(set(builds.values())) == 1, "the build stages have drifted apart"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_global_args_name_the_package(name: str):
    path = DOCKERFILES[name]
    args = global_args(path.read_text())
    assert args["BASE_IMAGE"] == "python:3.11-slim"
    package = {"churn-spark": "churn-core"}.get(name, name)  # an image of the same package
    assert args["PACKAGE"] == package
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    member = path.parent.relative_to(ROOT).as_posix()
    assert any(fnmatch(member, pattern) for pattern in members["members"])
    assert tomllib.loads((path.parent / "pyproject.toml").read_text())["project"]["name"] == package
    assert "EXTRAS" in args


def test_the_build_stage_runs_the_one_venv_recipe():
    stage = stages(DOCKERFILES["serving-api"].read_text())[0]
    assert 'sh /src/docker/build-venv.sh "${PACKAGE}" "${EXTRAS}"' in stage
    assert "--mount=type=bind,target=/src" in stage
    recipe = (ROOT / "docker/build-venv.sh").read_text()
    sync = next(line for line in recipe.splitlines() if line.startswith("set -- "))
    for flag in ("--frozen", "--no-dev", "--no-editable", '--package "$package"'):
        assert flag in sync
    assert "UV_PROJECT_ENVIRONMENT=/opt/venv" in recipe


@pytest.mark.parametrize("name", DOCKERFILES)
def test_runtime_stage_runs_as_10001_from_the_build_venv(name: str):
    runtime = stages(DOCKERFILES[name].read_text())[-1]
    assert "--uid 10001" in runtime
    assert "\nUSER 10001:10001\n" in runtime
    assert "COPY --from=build /opt/venv /opt/venv" in runtime


def test_the_uv_pin_is_in_pyproject_only():
    pin = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["required-version"]
    assert pin.startswith(">=")
    for path in [*DOCKERFILES.values(), ROOT / "docker/build-venv.sh"]:
        assert '"uv>=' not in path.read_text() and "uv==" not in path.read_text()
