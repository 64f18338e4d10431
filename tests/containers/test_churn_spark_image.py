"""The churn-spark image: the driver command Spark on Kubernetes gives a driver pod scores Parquet
with the image's own Spark, Java and Python workers (bit for bit as Predictor on the host, bad
rows in the errors output); the drift job runs; the executor command starts Spark's Kubernetes
executor backend. One container for all (each `docker run` copies the image under vfs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn_core import Predictor
from churn_core.data import generate
from churn_core.schema import FEATURE_NAMES

from .support import IMAGE_UID, writable_dir

pytestmark = pytest.mark.docker

JOB = "local:///opt/venv/lib/python3.11/site-packages/churn_core/spark/job.py"
ENTRYPOINT = "/opt/churn/entrypoint.sh"
ROWS = 5_000
# Two bad rows (CustomerId -> the fields named in its errors).
BAD = {-1: ({"CreditScore": 299, "Geography": "Italy"}, {"CreditScore", "Geography"}),
       -2: ({"Age": 101}, {"Age"})}  # fmt: skip


@pytest.fixture(scope="module")
def container(docker_client, image, bundle_dir: Path, tmp_path_factory) -> Any:
    data = writable_dir(tmp_path_factory.mktemp("spark") / "data")
    customers = generate(ROWS, seed=11)[list(FEATURE_NAMES)]
    customers.insert(0, "CustomerId", np.arange(ROWS, dtype=np.int64))
    template = customers.iloc[0].to_dict()
    bad = pd.DataFrame([{**template, **row, "CustomerId": i} for i, (row, _) in BAD.items()])
    frame = pd.concat([customers, bad.astype(customers.dtypes.to_dict())], ignore_index=True)
    frame.to_parquet(data / "customers.parquet", index=False)
    running = docker_client.containers.run(
        image("churn-spark"),
        command=["sleep", "600"],  # through tini and the entrypoint's pass-through
        volumes={
            str(data): {"bind": "/data", "mode": "rw"},
            str(bundle_dir): {"bind": "/opt/churn/model", "mode": "ro"},
        },
        environment={"SPARK_DRIVER_BIND_ADDRESS": "127.0.0.1"},
        detach=True,
    )
    try:
        yield running, data, customers
    finally:
        running.remove(force=True)


def run(container: Any, *command: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    code, output = container.exec_run(list(command), environment=env or {})
    text = output.decode(errors="replace")
    print(text[-4000:])
    return code, text


def test_runs_as_non_root_under_tini(container) -> None:
    running, _, _ = container
    assert run(running, "id", "-u")[1].strip() == str(IMAGE_UID)
    assert run(running, "cat", "/proc/1/cmdline")[1].startswith("/usr/bin/tini")


def test_driver_command_scores_bit_for_bit_and_rejects_bad_rows(container, bundle_dir) -> None:
    running, data, customers = container
    spark = ["--master", "local[2]", "--conf", "spark.ui.enabled=false"]
    job = ["score", "--model-dir", "/opt/churn/model", "--data", "/data/customers.parquet"]
    job += ["--out", "/data/scored.parquet", "--errors", "/data/rejected.json"]
    code, output = run(running, ENTRYPOINT, "driver", *spark, JOB, *job)
    assert code == 2, output  # rows were rejected: the single process's exit code
    assert f"scored {ROWS} of {ROWS + len(BAD)} rows" in output

    scored = pd.read_parquet(data / "scored.parquet").sort_values("CustomerId")
    expected = Predictor.from_bundle(bundle_dir).predict_proba(customers)
    assert scored.CustomerId.tolist() == customers.CustomerId.tolist()
    assert np.array_equal(scored.churn_probability.to_numpy(), expected)
    assert set(scored.risk_level) <= {"LOW", "MEDIUM", "HIGH"}

    lines = [
        json.loads(line)
        for path in sorted((data / "rejected.json").glob("part-*"))
        for line in path.read_text().splitlines()
    ]
    rejected = {row["CustomerId"]: {e["field"] for e in row["errors"]} for row in lines}
    assert rejected == {i: fields for i, (_, fields) in BAD.items()}


def test_drift_job_runs_on_the_image_spark(container) -> None:
    running, _, _ = container
    code, output = run(
        running,
        *("churn-core", "drift", "--engine", "spark", "--master", "local[2]"),
        *("--reference", "/opt/churn/model", "--current", "/data/customers.parquet"),
        *("--json", "/data/drift.json"),
    )
    assert code in (0, 1), output  # 0 no drift, 1 drift: a report either way
    _, data, _ = container
    report = json.loads((data / "drift.json").read_text())
    assert report["current"]["rows"] == ROWS  # the two bad rows count as invalid
    assert report["data_quality"]["invalid_rows"] == len(BAD)


def test_executor_command_starts_the_kubernetes_executor_backend(container) -> None:
    running, _, _ = container
    # No driver listens on this port: the backend starts, fails to reach it and exits non-zero.
    env = {
        "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@127.0.0.1:9",
        "SPARK_EXECUTOR_ID": "1",
        "SPARK_EXECUTOR_CORES": "1",
        "SPARK_EXECUTOR_MEMORY": "512m",
        "SPARK_APPLICATION_ID": "spark-test",
        "SPARK_EXECUTOR_POD_IP": "127.0.0.1",
        "SPARK_JAVA_OPT_0": "-Dspark.rpc.numRetries=1",
        "SPARK_JAVA_OPT_1": "-Dspark.rpc.retry.wait=100ms",
    }
    code, output = run(running, ENTRYPOINT, "executor", env=env)
    assert code != 0
    assert "KubernetesExecutorBackend" in output
    assert "127.0.0.1:9" in output  # it tried the driver it was given
