"""A real moto server on loopback for the deploy tests, plain boto3 clients on it, and the
Recorder that sees every call's parameters as botocore sends them (and answers, and records,
the few calls moto 5 does not implement)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from sagemaker_handler import cli

REGION = "eu-west-1"
BUCKET = "churn-models"
SKLEARN_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


class Recorder:
    """Records each API call's parameters as botocore is about to send them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self._answers: dict[str, dict[str, Any]] = {}
        self.session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self.session.events.register("provide-client-params.*.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        self.calls.append((service, model.name, dict(params)))

    def answer(self, operation: str, parsed: dict[str, Any]) -> None:
        """Answer ``operation`` here instead of moto (for the calls moto does not implement);
        a later answer for the same operation replaces the earlier one. Give the first answer
        before the client exists: botocore clients copy the session's hooks when made."""
        if operation not in self._answers:

            def hook(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
                return AWSResponse("", 200, {}, None), self._answers[operation]

            self.session.events.register(f"before-call.*.{operation}", hook)
        self._answers[operation] = parsed

    def only(self, operation: str) -> dict[str, Any]:
        (params,) = [p for _, op, p in self.calls if op == operation]
        return params

    def operations(self) -> list[str]:
        return [op for _, op, _ in self.calls]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().out


def recorded_cli(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """A Recorder whose session every AwsOps the CLI makes will use."""
    recorder = Recorder()
    monkeypatch.setattr("sagemaker_handler.deploy.client.boto3.Session", lambda: recorder.session)
    return recorder
