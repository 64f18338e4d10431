"""The churn-core job image: its entrypoint, and a generate → train → drift run on a volume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import IMAGE_UID, writable_dir

pytestmark = pytest.mark.docker


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return writable_dir(tmp_path / "data")


def test_entrypoint_is_churn_core(docker_client, image) -> None:
    output = docker_client.containers.run(image("churn-core"), remove=True)  # CMD --help
    for command in ("generate", "train", "score", "drift"):
        assert command.encode() in output


def test_generate_train_and_drift_jobs_as_non_root(docker_client, image, workdir: Path) -> None:
    # One container, several jobs (each `docker run` copies the whole image under vfs).
    container = docker_client.containers.run(
        image("churn-core"),
        entrypoint=["sleep", "300"],
        volumes={str(workdir): {"bind": "/data", "mode": "rw"}},
        detach=True,
    )
    try:

        def job(*args: str) -> int:
            code, output = container.exec_run(["churn-core", *args])
            print(output.decode(errors="replace"))
            return code

        assert container.exec_run(["id", "-u"]).output.decode().strip() == str(IMAGE_UID)
        assert job("generate", "--rows", "3000", "--out", "/data/reference.csv", "--seed", "1") == 0
        assert job("generate", "--rows", "3000", "--out", "/data/same.csv", "--seed", "2") == 0
        assert job("generate", "--rows", "3000", "--out", "/data/drifted.csv", "--drift", "1") == 0
        assert job("train", "--data", "/data/reference.csv", "--out", "/data/model", "--quick") == 0
        assert (workdir / "model" / "manifest.json").is_file()

        # Exit codes are the job's result: 0 no drift, 1 drift.
        same = ["--reference", "/data/model", "--current", "/data/same.csv"]
        assert job("drift", *same, "--json", "/data/same.json") == 0
        drifted = ["--reference", "/data/reference.csv", "--current", "/data/drifted.csv"]
        assert job("drift", *drifted, "--json", "/data/drifted.json") == 1
        report = json.loads((workdir / "drifted.json").read_text())
        assert report["drift"] is True and report["drifted_features"]
    finally:
        container.remove(force=True)
