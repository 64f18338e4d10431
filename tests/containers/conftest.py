"""Fixtures for the image tests: a Docker daemon, the built images, a small model bundle.

The images are built by `.ci/containers` (tag `churn-platform/<package>:$CHURN_IMAGE_TAG`,
default `ci`). Without a daemon or an image the tests skip, so the plain test command passes on
a machine without Docker; `.ci/containers` sets CHURN_CONTAINER_TESTS=required, which turns
those skips into failures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from churn_testing import quick_bundle

# testcontainers' reaper (Ryuk) is an image from Docker Hub; these tests remove their own
# containers in `finally` blocks instead.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

REQUIRED = os.environ.get("CHURN_CONTAINER_TESTS") == "required"
TAG = os.environ.get("CHURN_IMAGE_TAG", "ci")


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    import docker

    try:
        # A bound on each Docker API call, not a timing check: under the vfs storage driver
        # (CI's daemon) creating a container copies the image's layers, and the 1.2 GB churn-core
        # job image took over 30 s to create on a busy 2-core machine.
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as exc:  # no socket, no permission, daemon down: all mean "no Docker"
        unavailable(f"no Docker daemon answers ({type(exc).__name__}); .ci/containers starts one")
    yield client
    client.close()


@pytest.fixture(scope="session")
def image(docker_client: Any):
    """image(package) -> the tag of that package's built image (skips when it is not built)."""
    import docker

    def get(package: str) -> str:
        tag = f"churn-platform/{package}:{TAG}"
        try:
            docker_client.images.get(tag)
        except docker.errors.ImageNotFound:
            unavailable(f"image {tag} is not built; .ci/containers builds it")
        return tag

    return get


def world_readable(root: Path) -> Path:
    """The containers' uid is not the test runner's: let it read a mounted tree."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    return world_readable(quick_bundle())


@pytest.fixture(scope="session")
def customers() -> list[dict[str, Any]]:
    from churn_core.samples import SAMPLE_CUSTOMERS

    return [dict(c) for c in SAMPLE_CUSTOMERS]
