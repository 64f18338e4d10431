"""infra/sagemaker: the policies setup-role.sh renders are least-privilege."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

INFRA = Path(__file__).resolve().parents[3] / "infra" / "sagemaker"
SCRIPT = INFRA / "setup-role.sh"
BUCKET, PREFIX = "acme-models", "churn/sagemaker"
KMS = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# The only actions that may have Resource "*": AWS offers no resource-level permission for them
# (or, for application-autoscaling, none that covers a not-yet-registered target).
NO_RESOURCE_LEVEL = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "sagemaker:ListModels",
    "sagemaker:ListEndpointConfigs",
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
}


def rendered(*extra: str) -> dict[str, dict[str, Any]]:
    if shutil.which("bash") is None:
        pytest.skip("bash is needed to run setup-role.sh")
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--bucket", BUCKET, "--prefix", PREFIX, *extra],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    documents = {}
    for chunk in done.stdout.split("=== ")[1:]:
        name, body = chunk.split("\n", 1)
        documents[name.strip()] = json.loads(body)
    return documents


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return rendered("--kms-key-arn", KMS)


def permission_policies(documents: dict[str, dict[str, Any]]) -> list[tuple[str, dict]]:
    return [
        (name, statement)
        for name, doc in documents.items()
        if name != "execution-role-trust.json"
        for statement in doc["Statement"]
    ]


def test_every_document_is_rendered(documents):
    assert set(documents) == {
        "execution-role-trust.json", "execution-role-policy.json",
        "deployer-policy.json", "kms-policy.json",
    }  # fmt: skip
    assert "${" not in json.dumps(documents)


def test_no_wildcard_actions_and_no_star_resource_except_where_aws_needs_it(documents):
    for name, statement in permission_policies(documents):
        assert statement["Effect"] == "Allow", name
        assert "NotAction" not in statement and "NotResource" not in statement, name
        actions = as_list(statement["Action"])
        for action in actions:
            assert "*" not in action and "?" not in action, f"{name}: wildcard action {action}"
        if "*" in as_list(statement["Resource"]):
            unexpected = set(actions) - NO_RESOURCE_LEVEL
            assert not unexpected, f"{name}: {unexpected} on Resource '*'"


def test_s3_access_is_limited_to_the_model_bucket_and_prefix(documents):
    for name, statement in permission_policies(documents):
        actions = as_list(statement["Action"])
        if not any(a.startswith("s3:") for a in actions):
            continue
        for resource in as_list(statement["Resource"]):
            assert resource == f"arn:aws:s3:::{BUCKET}" or resource.startswith(
                f"arn:aws:s3:::{BUCKET}/{PREFIX}/"
            ), f"{name}: {resource}"
            if resource == f"arn:aws:s3:::{BUCKET}" and "s3:ListBucket" in actions:
                prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
                assert all(p.startswith(PREFIX) for p in prefixes)


def test_pass_role_only_for_sagemaker_and_kms_only_for_the_key(documents):
    statements = [s for _, s in permission_policies(documents)]
    (pass_role,) = [s for s in statements if "iam:PassRole" in as_list(s["Action"])]
    assert (
        pass_role["Condition"]["StringEquals"]["iam:PassedToService"] == "sagemaker.amazonaws.com"
    )
    assert pass_role["Resource"] == ["arn:aws:iam::123456789012:role/churn-sagemaker"]
    (kms,) = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert kms["Resource"] == [KMS]


def test_the_trust_policy_lets_only_sagemaker_assume_the_role(documents):
    (statement,) = documents["execution-role-trust.json"]["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


@pytest.mark.parametrize("argv", [["--prefix", ""], ["--prefix", "churn/*"], ["--bucket", "*"]])
def test_the_script_refuses_a_prefix_that_would_open_the_bucket(argv):
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--bucket", BUCKET, *argv],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "error:" in done.stderr


def test_the_static_files_are_valid_json():
    for path in INFRA.glob("*.json"):
        json.loads(path.read_text())
