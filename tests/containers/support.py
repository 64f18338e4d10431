"""Helpers for the image tests: run an image until ready, stop it like an orchestrator does,
look inside it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

# The images run as this uid (USER 10001:10001 in every Dockerfile).
IMAGE_UID = 10001


def writable_dir(path: Path) -> Path:
    """Create a host directory the image's uid may write to (the volume a pod would mount)."""
    path.mkdir()
    if os.geteuid() == 0:
        os.chown(path, IMAGE_UID, IMAGE_UID)
    else:
        path.chmod(0o777)
    return path


@dataclass
class Service:
    container: Any  # testcontainers DockerContainer
    url: str

    @property
    def wrapped(self) -> Any:  # the docker-py container
        return self.container.get_wrapped_container()

    def address(self, port: int) -> str:
        """host:port on which the container's ``port`` is published."""
        return f"{self.container.get_container_host_ip()}:{self.container.get_exposed_port(port)}"

    def logs(self) -> str:
        out, err = self.container.get_logs()
        return (out + err).decode(errors="replace")


@contextmanager
def running(
    image: str,
    port: int,
    ready_path: str,
    volumes: list[tuple[Path, str, str]] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    other_ports: tuple[int, ...] = (),
) -> Iterator[Service]:
    """Start the image, wait until ready_path answers 200, and always remove the container.
    ``other_ports`` are published too (``Service.address(port)``)."""
    from testcontainers.core.container import DockerContainer

    container = DockerContainer(image, env=env or {})
    container.with_exposed_ports(port, *other_ports)
    for host, path, mode in volumes:
        container.with_volume_mapping(str(host), path, mode)
    container.start()
    try:
        host = container.get_container_host_ip()
        service = Service(container, f"http://{host}:{container.get_exposed_port(port)}")
        wait_ready(service, ready_path, timeout)
        yield service
    finally:
        container.stop()


def wait_ready(service: Service, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.wrapped.reload()
        if service.wrapped.status == "exited":
            pytest.fail(f"the container exited before it was ready:\n{service.logs()[-3000:]}")
        try:
            if httpx.get(service.url + path, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{path} did not answer 200 within {timeout:.0f} s:\n{service.logs()[-3000:]}")


def stop_with_sigterm(service: Service, timeout: float = 60.0) -> int:
    """What Kubernetes and SageMaker do on scale-in: SIGTERM, then wait for the exit code."""
    service.wrapped.kill(signal="SIGTERM")
    return int(service.wrapped.wait(timeout=timeout)["StatusCode"])


# Run inside the container by its own Python (the venv's, first on PATH).
_FACTS = """
import json, os, shutil, sysconfig
import churn_core
site = sysconfig.get_paths()["purelib"]
ours = ("churn_core", "serving_api", "sagemaker_handler", "vertex_predictor")
print(json.dumps({
    "uid": os.getuid(),
    "tools": [t for t in ("uv", "gcc", "cc", "make", "git") if shutil.which(t)],
    "sources": [p for p in ["/src", *(os.path.join(site, n, "tests") for n in ours)]
                if os.path.exists(p)],
    "churn_core": churn_core.__file__,
    "site": site,
}))
"""


def assert_lean_non_root(service: Service) -> None:
    """Non-root, no build tools, no sources or tests: checked from inside the running container."""
    code, output = service.wrapped.exec_run(["python", "-c", _FACTS])
    assert code == 0, output.decode(errors="replace")
    facts = json.loads(output)
    assert facts["uid"] != 0, "the image runs as root"
    assert facts["uid"] == IMAGE_UID
    assert facts["tools"] == [], f"build tools in the final image: {facts['tools']}"
    assert facts["sources"] == [], f"sources or tests in the final image: {facts['sources']}"
    # Installed as a wheel into the venv, not an editable link to a source tree.
    assert facts["churn_core"].startswith(facts["site"]), facts
