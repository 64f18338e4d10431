"""infra/k8s/kserve, offline: the example KServe InferenceServices render, validate against the
vendored InferenceService schema (and the strict core Container/Volume types it refers to),
and agree with serving-api: ports, settings, probe routes, the protocol each one serves."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from .conftest import find, render
from .test_k8s_manifests import K8S_VERSIONS, app_routes, crd_validator, validate

__all__ = ["app_routes"]  # the fixture, shared with the base manifests' tests

Docs = tuple[dict[str, Any], ...]


@pytest.fixture(scope="module")
def docs() -> Docs:
    return render("kserve")


def container(doc: dict[str, Any]) -> dict[str, Any]:
    (only,) = doc["spec"]["predictor"]["containers"]
    return only


def env(doc: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(doc)["env"]}


@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
def test_inference_services_validate(docs: Docs, k8s_version: str) -> None:
    assert {d["kind"] for d in docs} == {"InferenceService"}
    for doc in docs:
        validate(doc, k8s_version)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "predictor", "minReplica"), 1),  # misspelt field
        (("spec", "predictor", "scaleMetric"), "latency"),  # not in the CRD's enum
        (("spec", "predictor", "containers", 0, "imagePullPolicy"), 3),  # core type checked
    ],
)
def test_the_schema_rejects_mistakes(docs: Docs, path: tuple[Any, ...], value: Any) -> None:
    broken = copy.deepcopy(docs[0])
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        crd_validator(broken, K8S_VERSIONS[-1]).validate(broken)


def test_rest_and_grpc_services_agree_with_serving_api(
    docs: Docs, app_routes: dict[str, set[str]]
) -> None:
    from serving_api.config import Settings

    rest, grpc = (
        find(docs, "InferenceService", "churn"),
        find(docs, "InferenceService", "churn-grpc"),
    )
    for doc in (rest, grpc):
        c = container(doc)
        assert c["name"] == "kserve-container" and c["command"] == ["serving-api"]
        settings = Settings(**{k.removeprefix("SERVING_").lower(): v for k, v in env(doc).items()})
        assert settings.host == "0.0.0.0" and settings.port == 8080
        for probe in ("readinessProbe", "livenessProbe"):
            check = c[probe]["httpGet"]
            assert "get" in app_routes[check["path"]] and check["port"] == settings.port
        assert doc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    # KServe routes to the one declared port: http1 (REST) or h2c (gRPC).
    (rest_port,) = container(rest)["ports"]
    assert (rest_port["name"], rest_port["containerPort"]) == ("http1", 8080)
    assert env(rest)["SERVING_GRPC_PORT"] == ""  # the image's default gRPC port is turned off
    (grpc_port,) = container(grpc)["ports"]
    assert (grpc_port["name"], grpc_port["containerPort"]) == ("h2c", 8081)
    assert env(grpc)["SERVING_GRPC_PORT"] == "8081"
    assert "post" in app_routes["/v2/models/churn/infer"]
