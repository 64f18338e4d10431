from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from churn_testing import free_port

from .smh_helpers import HandlerServer, start_serve


@pytest.fixture(scope="session")
def core_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sagemaker_handler.packaging import build_core_wheel

    return build_core_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def tarball(tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path, core_wheel: Path) -> Path:
    from sagemaker_handler.packaging import package_model

    out = tmp_path_factory.mktemp("package") / "model.tar.gz"
    return package_model(bundle_dir, out, wheel=core_wheel).path


@pytest.fixture(scope="session")
def customers() -> list[dict[str, Any]]:
    from churn_core.data import generate
    from churn_core.schema import FEATURE_NAMES

    frame = generate(40, seed=11)[list(FEATURE_NAMES)]
    return frame.to_dict(orient="records")


@pytest.fixture(scope="session")
def server(tarball: Path) -> Iterator[HandlerServer]:
    """`sagemaker-handler serve` as its own process, port from SAGEMAKER_BIND_TO_PORT."""
    port = free_port()
    env = {"SAGEMAKER_BIND_TO_PORT": str(port)}
    with start_serve(tarball, port, env=env, use_port_flag=False) as server:
        server.wait_ready(90)
        yield server


# The moto server on loopback for the deploy tests (moto_helpers.py has the Recorder).
@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server per test module, reset at its start."""
    from churn_testing.moto import moto_server

    with moto_server() as url:
        yield url


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> None:
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")


@pytest.fixture(scope="module")
def aws(moto_url: str) -> dict[str, Any]:
    """Plain boto3 clients on the moto server, to arrange state and read it back."""
    import boto3

    from .moto_helpers import BUCKET, REGION

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    names = ("s3", "iam", "sagemaker", "application-autoscaling", "cloudwatch")
    clients = {n: session.client(n, endpoint_url=moto_url) for n in names}
    clients["s3"].create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    role = clients["iam"].create_role(RoleName="churn-sagemaker", AssumeRolePolicyDocument="{}")
    clients["role_arn"] = role["Role"]["Arn"]
    return clients
