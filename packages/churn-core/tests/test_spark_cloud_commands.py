"""The EMR Serverless command of docs/spark.md, checked offline: each ``--flag`` is a member of
StartJobRun in botocore's own model of ``emr-serverless`` (named as the AWS CLI names it), boto3
sends the parameters to a moto server (botocore validates them against AWS's model first), and
the job's arguments parse with churn-core's own parser, as ``churn_core/spark/job.py`` passes
them on. Nothing here calls AWS: fake credentials, every call to a moto server on loopback.

The Dataproc Serverless command of the same page is not checked: there is no Google model or
emulator of Dataproc batches here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name

from churn_core.cli_parser import build_parser
from churn_core.spark import job
from churn_testing.moto import moto_server

DOC = Path(__file__).resolve().parents[3] / "docs" / "spark.md"
COMMAND = ("aws", "emr-serverless", "start-job-run")
PLACEHOLDER = "APPLICATION_ID"
REGION = "eu-west-1"
RELEASE = "emr-7.5.0"


def documented_command(markdown: str) -> list[str]:
    """The words of the one ```text block whose first line starts the command (a backslash at
    a line's end continues it, as in the shell; a quoted JSON may span lines)."""
    blocks = re.findall(r"^```text\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)
    found = [b for b in blocks if b.startswith(" ".join(COMMAND))]
    assert len(found) == 1, f"expected one ```text block starting {' '.join(COMMAND)!r}"
    return shlex.split(found[0].replace("\\\n", ""))


def start_job_run_params(words: list[str]) -> dict[str, Any]:
    """``--kebab-flag value`` pairs as StartJobRun parameters, each flag the kebab form of an
    input member of botocore's model (as the AWS CLI derives it: applicationId ->
    --application-id); structures, maps and lists are JSON, strings as written."""
    assert tuple(words[:3]) == COMMAND, words[:3]
    shape = (
        botocore.session.get_session()
        .get_service_model("emr-serverless")
        .operation_model("StartJobRun")
        .input_shape
    )
    flags = {"--" + xform_name(name, "-"): name for name in shape.members}
    rest = words[3:]
    if len(rest) % 2:
        pytest.fail(f"not --flag value pairs after {' '.join(COMMAND)}: {rest}")
    params: dict[str, Any] = {}
    for flag, value in zip(rest[::2], rest[1::2], strict=True):
        if flag not in flags:
            pytest.fail(
                f"{flag} is not a StartJobRun parameter of emr-serverless in botocore's model; "
                f"its flags: {', '.join(sorted(flags))}"
            )
        member = flags[flag]
        kind = shape.members[member].type_name
        if kind in ("structure", "map", "list"):
            try:
                params[member] = json.loads(value)
            except json.JSONDecodeError as error:
                pytest.fail(f"{flag} takes JSON ({kind}): {error}")
        elif kind == "string":
            params[member] = value
        elif kind in ("integer", "long"):
            params[member] = int(value)
        else:
            pytest.fail(f"{flag}: a {kind} member, which this check does not convert")
    return params


def churn_core_arguments(entry_point_arguments: list[str]) -> argparse.Namespace:
    """Parse the job's arguments as ``job.py`` hands them to ``churn-core`` (``--engine spark``
    after the command), with churn-core's own parser; no prefix abbreviations (a renamed flag
    must not still parse as a prefix of the new one)."""
    handed: list[list[str]] = []

    def cli_main(argv: list[str]) -> int:
        handed.append(list(argv))
        return 0

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("churn_core.cli.main", cli_main)
        job.main(entry_point_arguments)
    [argv] = handed
    parser = build_parser()
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.allow_abbrev = False
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return parser.parse_args(argv)
    except SystemExit:
        message = errors.getvalue().strip().splitlines()[-1:]
        pytest.fail(f"churn-core rejects the documented job arguments {argv}: {message}")


@pytest.fixture(autouse=True)
def no_aws_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Explicit fake keys and endpoint; no profile or endpoint of the machine's applies."""
    for key in ("PROFILE", "DEFAULT_PROFILE", "ENDPOINT_URL", "ENDPOINT_URL_EMR_SERVERLESS"):
        monkeypatch.delenv(f"AWS_{key}", raising=False)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def emr_serverless(moto_url: str, account: str) -> Any:
    """boto3's emr-serverless client on moto, as ``account``: moto refuses a job whose
    execution role is in another account than the caller's ("Cross-account pass role")."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    client = session.client("emr-serverless", endpoint_url=moto_url)

    def as_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-sign.emr-serverless.*", as_account)
    return client


def test_emr_serverless_start_job_run_is_valid(moto_url: str) -> None:
    params = start_job_run_params(documented_command(DOC.read_text(encoding="utf-8")))
    assert params.get("applicationId") == PLACEHOLDER
    role_account = params["executionRoleArn"].split(":")[4]

    client = emr_serverless(moto_url, role_account)
    application = client.create_application(name="churn", type="SPARK", releaseLabel=RELEASE)
    params["applicationId"] = application["applicationId"]
    # botocore validates every parameter against AWS's model before sending (a wrong key or
    # type: ParamValidationError); moto then accepts or refuses the run.
    started = client.start_job_run(**params)
    assert started["jobRunId"]
    assert started["applicationId"] == application["applicationId"]

    run = client.get_job_run(
        applicationId=application["applicationId"], jobRunId=started["jobRunId"]
    )
    sent, stored = params["jobDriver"]["sparkSubmit"], run["jobRun"]["jobDriver"]["sparkSubmit"]
    assert stored["entryPoint"] == sent["entryPoint"]
    assert stored["entryPointArguments"] == sent["entryPointArguments"]
    assert run["jobRun"]["executionRole"] == params["executionRoleArn"]
    assert run["jobRun"]["releaseLabel"] == RELEASE

    # The job: churn_core/spark/job.py, its arguments those of `churn-core score`.
    assert sent["entryPoint"].endswith("/job.py")
    args = churn_core_arguments(sent["entryPointArguments"])
    assert (args.command, args.engine) == ("score", "spark")
    assert args.data.startswith("s3a://") and args.out.startswith("s3a://")
    assert args.errors.startswith("s3a://")
    assert args.model_dir == Path("./model")
    # The bundle the job reads is the archive the job ships as ./model.
    assert "model.tar.gz#model" in sent["sparkSubmitParameters"]
