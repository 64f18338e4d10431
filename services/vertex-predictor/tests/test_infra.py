"""infra/vertex/setup-service-account.sh grants least privilege, and nothing else."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "infra" / "vertex" / "setup-service-account.sh"
BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
BROAD_ROLES = {
    "roles/aiplatform.admin",
    "roles/storage.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.securityAdmin",
    "roles/resourcemanager.projectIamAdmin",
}
EXPECTED = {
    ("project", "churn-vertex-serving", "roles/logging.logWriter"),
    ("project", "churn-vertex-serving", "roles/monitoring.metricWriter"),
    ("project", "churn-vertex-deployer", "roles/aiplatform.user"),
    ("bucket", "churn-vertex-serving", "roles/storage.objectViewer"),
    ("bucket", "churn-vertex-deployer", "roles/storage.objectAdmin"),
    ("service-account", "churn-vertex-deployer", "roles/iam.serviceAccountUser"),
}


def grants(script: Path) -> set[tuple[str, str, str]]:
    """(scope, account name, role) for every binding the script makes, from a dry run."""
    env = {**os.environ, "PROJECT_ID": "p", "MODEL_BUCKET": "churn-models"}
    out = subprocess.run(
        ["bash", str(script), "--dry-run"], env=env, capture_output=True, text=True, check=True
    ).stdout
    found = set()
    for line in out.splitlines():
        argv = shlex.split(line)
        options = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
        if "role" not in options:
            continue
        scope = {"projects": "project", "storage": "bucket", "iam": "service-account"}[argv[1]]
        if scope == "bucket":
            assert argv[4] == "gs://churn-models", "storage roles only on the model bucket"
        account = options["member"].removeprefix("serviceAccount:").split("@")[0]
        found.add((scope, account, options["role"]))
    return found


def check_least_privilege(script: Path) -> None:
    code = "\n".join(line.split("#")[0] for line in script.read_text().splitlines())
    written = set(re.findall(r"roles/[A-Za-z.]+", code))
    granted = grants(script)
    assert written == {role for _, _, role in granted}, "every role in the file is exercised"
    for scope, _account, role in granted:
        assert role not in BASIC_ROLES, f"{role} is a basic role"
        assert role not in BROAD_ROLES, f"{role} is broader than needed"
        if role.startswith("roles/storage."):
            assert scope == "bucket", f"{role} must be bound on the bucket, not {scope}"


def test_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_grants_exactly_the_least_privilege_roles() -> None:
    assert grants(SCRIPT) == EXPECTED
    check_least_privilege(SCRIPT)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("  roles/aiplatform.user\n", "  roles/aiplatform.user\n  roles/editor\n"),
        ("  roles/logging.logWriter\n", "  roles/owner\n"),
        ("SERVING_PROJECT_ROLES=(\n", "SERVING_PROJECT_ROLES=(\n  roles/storage.objectViewer\n"),
        ("  roles/storage.objectAdmin\n", "  roles/storage.admin\n"),
    ],
)
def test_the_check_rejects_broad_roles(tmp_path: Path, old: str, new: str) -> None:
    widened = tmp_path / "setup-service-account.sh"
    text = SCRIPT.read_text()
    assert old in text
    widened.write_text(text.replace(old, new, 1))
    with pytest.raises(AssertionError):
        check_least_privilege(widened)


def test_requires_project_and_bucket() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PROJECT_ID", "MODEL_BUCKET"}}
    result = subprocess.run(
        ["bash", str(SCRIPT)], env={**env, "DRY_RUN": "1"}, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "PROJECT_ID" in result.stderr
