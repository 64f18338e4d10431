"""infra/k8s, offline: each overlay renders with `kubectl kustomize`, every object validates
(kubernetes-validate --strict for built-in kinds, the vendored schemas for CRD kinds), and the
manifests agree with serving-api (routes, port, settings, metrics) and with the rule files."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import subprocess
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import referencing
import yaml
from kubernetes_validate.utils import latest_version, major_minor

from .conftest import K8S, MONITORING, OVERLAYS, LiveServing, find, render, tool

# The oldest Kubernetes we support (podFailurePolicy, the preStop sleep action and the PDB's
# unhealthyPodEvictionPolicy are GA or on by default from 1.31), and the newest known.
K8S_VERSIONS = ("1.31", major_minor(latest_version()))
SCHEMAS = K8S / "schemas"
TARGETS = ("base", *(f"overlays/{o}" for o in OVERLAYS))
Docs = tuple[dict[str, Any], ...]


def crd_schema_file(doc: dict[str, Any]) -> Path:
    group, version = doc["apiVersion"].split("/")
    return SCHEMAS / f"{doc['kind'].lower()}-{group}-{version}.json"


def is_builtin(doc: dict[str, Any]) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def crd_validator(doc: dict[str, Any], k8s_version: str) -> jsonschema.Draft202012Validator:
    """Validator for a CRD kind: our schema, resolving core types in kubernetes-validate's
    strict definitions of the same Kubernetes version."""
    definitions = json.loads(
        files("kubernetes_validate")
        .joinpath(f"kubernetes-json-schema/v{k8s_version}.0-local-strict/_definitions.json")
        .read_text()
    )
    schema = json.loads(crd_schema_file(doc).read_text())
    registry = referencing.Registry().with_resources(
        [
            (definitions["$id"], referencing.Resource.from_contents(definitions)),
            (schema["$id"], referencing.Resource.from_contents(schema)),
        ]
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate(doc: dict[str, Any], k8s_version: str) -> None:
    if is_builtin(doc):
        kubernetes_validate.validate(doc, k8s_version, strict=True)
    else:
        crd_validator(doc, k8s_version).validate(doc)


def pod_specs(docs: Docs) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Rollout":
            yield name, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield name, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def serving_container(docs: Docs) -> dict[str, Any]:
    return find(docs, "Rollout", "serving-api")["spec"]["template"]["spec"]["containers"][0]


def configmap(docs: Docs, prefix: str) -> dict[str, str]:
    (data,) = [
        d["data"]
        for d in docs
        if d["kind"] == "ConfigMap"
        and re.fullmatch(rf"{prefix}-[a-z0-9]{{10}}", d["metadata"]["name"])
    ]
    return data


@pytest.fixture(scope="module")
def app_routes() -> dict[str, set[str]]:
    """Path -> methods of serving-api's FastAPI app (its OpenAPI schema), built without a model."""
    from serving_api.app import create_app
    from serving_api.config import Settings

    def no_model():  # never called: the app is not started
        raise AssertionError("not loaded")

    app = create_app(Settings(capture_enabled=False), loader=no_model)
    return {path: set(item) for path, item in app.openapi()["paths"].items()}


# -- rendering and schema validation ---------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_kustomize_renders(target: str) -> None:
    kinds = {d["kind"] for d in render(target)}
    assert {"Rollout", "AnalysisTemplate", "CronJob", "PrometheusRule", "ServiceMonitor"} <= kinds


@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(overlay: str, k8s_version: str) -> None:
    docs = render(f"overlays/{overlay}")
    crds = set()
    for doc in docs:
        if not is_builtin(doc):
            assert crd_schema_file(doc).exists(), f"no vendored schema for {doc['kind']}"
            crds.add(doc["kind"])
        try:
            validate(doc, k8s_version)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            path = ".".join(map(str, exc.path))
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            pytest.fail(exc.message)
    assert {"Rollout", "AnalysisTemplate", "ServiceMonitor", "PrometheusRule"} <= crds


def test_kubernetes_validate_cli_agrees_on_builtin_kinds(tmp_path: Path) -> None:
    """The same check through the kubernetes-validate command, as one would run it by hand."""
    cli = tool("kubernetes-validate")
    assert cli is not None
    for overlay in OVERLAYS:
        builtin = [d for d in render(f"overlays/{overlay}") if is_builtin(d)]
        path = tmp_path / f"{overlay}.yaml"
        path.write_text(yaml.safe_dump_all(builtin))
        result = subprocess.run(
            [cli, "--strict", "--quiet", "-k", K8S_VERSIONS[0], str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "WARN" not in result.stdout, result.stdout


def broken(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with the dotted ``path`` set to ``value`` (numeric parts index lists)."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("Rollout", "spec.strategy.canary.steps.0.setWieght", 10),  # misspelt field
        ("Rollout", "spec.strategy.canary.steps.1.pause.duration", {"minutes": 5}),
        ("Rollout", "spec.template.spec.containers.0.readinessProbe.httpGet.paht", "/readyz"),
        ("Rollout", "spec.template.metadata.namespace", "churn"),  # not in the CRD's template
        ("AnalysisTemplate", "spec.metrics.0.provider.prometheus.qurey", "up"),
        ("AnalysisTemplate", "spec.metrics.0.provider", None),
        ("ServiceMonitor", "spec.endpoints.0.interval", "30 seconds"),
        ("ServiceMonitor", "spec.endpoints.0.portt", "http"),
        ("PrometheusRule", "spec.groups.0.rules.0.for", "five minutes"),
        ("PrometheusRule", "spec.groups.0.rulez", []),
        ("BackendConfig", "spec.healthCheck.requestPath", 8000),
        ("BackendConfig", "spec.healthCheck.path", "/readyz"),
    ],
)
def test_vendored_schemas_reject_mistakes(kind: str, path: str, value: Any) -> None:
    doc = find(render("overlays/gke"), kind)
    validate(doc, K8S_VERSIONS[0])  # the original is valid
    with pytest.raises(jsonschema.ValidationError):
        validate(broken(doc, path, value), K8S_VERSIONS[0])


# -- agreement with serving-api --------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_use_real_routes_and_the_served_port(overlay: str, app_routes) -> None:
    docs = render(f"overlays/{overlay}")
    container = serving_container(docs)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    settings = configmap(docs, "serving-api-settings")
    assert ports == {
        "http": int(settings["SERVING_PORT"]),
        "grpc": int(settings["SERVING_GRPC_PORT"]),
    }
    assert settings["SERVING_HOST"] == "0.0.0.0"  # the CLI's default 127.0.0.1 is unreachable
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    for probe in probes.values():
        assert "get" in app_routes[probe["path"]]
        assert probe["port"] in ports
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"

    for name in ("serving-api", "serving-api-stable", "serving-api-canary"):
        service_ports = find(docs, "Service", name)["spec"]["ports"]
        assert {p["name"]: p["targetPort"] for p in service_ports} == {
            "http": "http",
            "grpc": "grpc",
        }
        grpc_port = next(p for p in service_ports if p["name"] == "grpc")
        assert grpc_port["appProtocol"] == "kubernetes.io/h2c"
    monitor = find(docs, "ServiceMonitor", "serving-api")
    (endpoint,) = monitor["spec"]["endpoints"]
    root_ports = {p["name"] for p in find(docs, "Service", "serving-api")["spec"]["ports"]}
    assert endpoint["port"] in root_ports
    assert "get" in app_routes[endpoint["path"]] and endpoint["path"] == "/metrics"

    # The load balancer's health check: the readiness route on the pod port.
    if overlay == "gke":
        check = find(docs, "BackendConfig", "serving-api")["spec"]["healthCheck"]
        assert (check["requestPath"], check["port"]) == ("/readyz", ports["http"])
    else:
        annotations = find(docs, "Ingress", "serving-api")["metadata"]["annotations"]
        assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/readyz"
        assert annotations["alb.ingress.kubernetes.io/healthcheck-port"] == "traffic-port"
        assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_are_real_serving_api_settings(overlay: str) -> None:
    """pydantic-settings ignores unknown variables: a misspelt key would be silently lost."""
    from serving_api.config import Settings

    known = set()
    for name, field in Settings.model_fields.items():
        known.add(f"SERVING_{name.upper()}")
        choices = getattr(field.validation_alias, "choices", [])
        known.update(choice for choice in choices if isinstance(choice, str))
    docs = render(f"overlays/{overlay}")
    settings = configmap(docs, "serving-api-settings")
    assert set(settings) - known == set()
    Settings.model_validate({k.removeprefix("SERVING_").lower(): v for k, v in settings.items()})
    env = serving_container(docs)["env"]
    (key,) = [e for e in env if e["name"] == "SERVING_API_KEY"]
    assert key["valueFrom"]["secretKeyRef"]["optional"] is True
    assert serving_container(docs)["command"] == ["serving-api"]


def test_serving_api_command_is_the_cli_entry_point() -> None:
    import tomllib

    pyproject = K8S.parents[1] / "services" / "serving-api" / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    assert scripts["serving-api"] == "serving_api.cli:main"


def manifest_queries(docs: Docs) -> list[str]:
    rule = find(docs, "PrometheusRule")
    template = find(docs, "AnalysisTemplate", "serving-api-canary")
    return [str(r["expr"]) for g in rule["spec"]["groups"] for r in g["rules"]] + [
        m["provider"]["prometheus"]["query"] for m in template["spec"]["metrics"]
    ]


def exported_metric_names() -> set[str]:
    """Sample names serving-api's registry can expose (offline: from its metric definitions)."""
    from serving_api.metrics import Metrics

    names = set()
    for family in Metrics().registry.collect():
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_count", "_sum"),
            "gauge": ("",),
        }[family.type]
        names.update(family.name + suffix for suffix in suffixes)
    return names


def test_every_metric_in_the_manifests_exists() -> None:
    docs = render("overlays/gke")
    recorded = {
        r["record"]
        for g in find(docs, "PrometheusRule")["spec"]["groups"]
        for r in g["rules"]
        if "record" in r
    }
    serving = exported_metric_names()
    from churn_core.drift import sinks

    pushed = set(re.findall(r'Gauge\(\s*"(churn_drift_[a-z_]+)"', Path(sinks.__file__).read_text()))
    assert len(pushed) >= 8
    for query in manifest_queries(docs):
        for name in re.findall(r'"(?:[^"\\]|\\.)*"|([a-zA-Z_:][a-zA-Z0-9_:]*)', query):
            if ":" in name:
                assert name in recorded, f"{name} is not a recording rule"
            elif name.startswith("serving_"):
                assert name in serving, f"serving-api does not export {name}"
            elif name.startswith("churn_drift_"):
                assert name in pushed, f"churn-core drift does not push {name}"


def test_live_serving_api_exports_what_the_manifests_query(serving_api: LiveServing) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    live = {
        s.name for f in text_string_to_metric_families(serving_api.metrics_text) for s in f.samples
    }
    used = {
        name
        for query in manifest_queries(render("overlays/eks"))
        for name in re.findall(r'"(?:[^"\\]|\\.)*"|([a-zA-Z_:][a-zA-Z0-9_:]*)', query)
        if name.startswith("serving_")
    }
    assert used and used - live == set()


# -- agreement with the rule files -----------------------------------------------------------


def test_prometheusrule_is_the_rule_files() -> None:
    spec = importlib.util.spec_from_file_location(
        "sync_prometheusrule", MONITORING / "sync_prometheusrule.py"
    )
    assert spec is not None and spec.loader is not None
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    target = K8S / "base" / "prometheusrule.yaml"
    assert target.read_text() == sync.render(), (
        "run: uv run python infra/monitoring/sync_prometheusrule.py"
    )
    groups = []
    for path in sorted((MONITORING / "rules").glob("*.rules.yml")):
        groups.extend(yaml.safe_load(path.read_text())["groups"])
    for overlay in OVERLAYS:
        assert find(render(f"overlays/{overlay}"), "PrometheusRule")["spec"]["groups"] == groups
    names = [g["name"] for g in groups]
    assert len(names) == len(set(names))  # the CRD keys groups by name


def test_analysis_template_queries_are_unit_tested_recording_rules() -> None:
    template = find(render("base"), "AnalysisTemplate", "serving-api-canary")
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    assert metrics["success-ratio"]["successCondition"] == "result[0] >= 0.99"
    assert metrics["p95-latency"]["successCondition"] == "result[0] < 0.05"
    tests = (MONITORING / "tests" / "serving.test.yml").read_text()
    for metric in metrics.values():
        query = metric["provider"]["prometheus"]["query"]
        assert 'role="canary"' in query and 'namespace="{{args.namespace}}"' in query
        record = query.split("{")[0]
        assert record in tests  # exercised by the promtool unit tests
    declared = {a["name"] for a in template["spec"]["args"]}
    used = set(re.findall(r"\{\{args\.([a-z-]+)\}\}", json.dumps(template["spec"]["metrics"])))
    assert used <= declared


# -- rollout, scaling, security --------------------------------------------------------------


def test_rollout_canary_steps_and_analysis() -> None:
    docs = render("base")
    canary = find(docs, "Rollout", "serving-api")["spec"]["strategy"]["canary"]
    steps = canary["steps"]
    assert [s["setWeight"] for s in steps if "setWeight" in s] == [10, 50, 100]
    kinds = [next(iter(s)) for s in steps]
    assert kinds == ["setWeight", "pause", "analysis"] * 2 + ["setWeight"]
    for step in steps:
        if "analysis" in step:
            (ref,) = step["analysis"]["templates"]
            find(docs, "AnalysisTemplate", ref["templateName"])
            args = {a["name"] for a in step["analysis"]["args"]}
            template = find(docs, "AnalysisTemplate", ref["templateName"])
            required = {a["name"] for a in template["spec"]["args"] if "value" not in a}
            assert required <= args
    find(docs, "Service", canary["canaryService"])
    find(docs, "Service", canary["stableService"])
    assert canary["canaryMetadata"]["labels"]["role"] == "canary"
    assert canary["stableMetadata"]["labels"]["role"] == "stable"
    assert find(docs, "ServiceMonitor", "serving-api")["spec"]["podTargetLabels"] == ["role"]


def test_service_monitor_scrapes_each_pod_once() -> None:
    docs = render("base")
    selector = find(docs, "ServiceMonitor", "serving-api")["spec"]["selector"]["matchLabels"]
    scraped = [
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "Service" and selector.items() <= d["metadata"]["labels"].items()
    ]
    assert scraped == ["serving-api"]  # the all-pods Service, not stable/canary as well


def test_hpa_pdb_and_drift_schedule() -> None:
    docs = render("base")
    hpa = find(docs, "HorizontalPodAutoscaler", "serving-api")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": "serving-api",
    }
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    (metric,) = hpa["metrics"]
    assert (
        metric["resource"]["name"] == "cpu"
        and metric["resource"]["target"]["averageUtilization"] == 70
    )
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    assert "replicas" not in find(docs, "Rollout", "serving-api")["spec"]  # the HPA owns it
    pdb = find(docs, "PodDisruptionBudget", "serving-api")["spec"]
    assert pdb["maxUnavailable"] < hpa["minReplicas"]
    assert pdb["selector"] == find(docs, "Rollout", "serving-api")["spec"]["selector"]

    cron = find(docs, "CronJob", "churn-drift")["spec"]
    assert (cron["schedule"], cron["concurrencyPolicy"]) == ("0 6 * * *", "Forbid")
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    rollout_pod = find(docs, "Rollout", "serving-api")["spec"]["template"]["spec"]
    claim = {v["name"]: v for v in pod["volumes"]}["captures"]["persistentVolumeClaim"]
    serving_claim = {v["name"]: v for v in rollout_pod["volumes"]}["captures"][
        "persistentVolumeClaim"
    ]
    assert claim["claimName"] == serving_claim["claimName"] and claim["readOnly"] is True
    pvc = find(docs, "PersistentVolumeClaim", claim["claimName"])
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    # The job reads the directory serving-api writes.
    (drift,) = pod["containers"]
    mount = {m["name"]: m["mountPath"] for m in drift["volumeMounts"]}["captures"]
    serving_mount = {
        m["name"]: m["mountPath"] for m in rollout_pod["containers"][0]["volumeMounts"]
    }
    assert (
        mount == serving_mount["captures"] == configmap(docs, "churn-drift-settings")["CAPTURE_DIR"]
    )
    assert configmap(docs, "serving-api-settings")["SERVING_CAPTURE_DIR"] == mount


@pytest.mark.parametrize("target", TARGETS)
def test_images_are_pinned(target: str) -> None:
    for name, pod in pod_specs(render(target)):
        for container in containers(pod):
            image = container["image"]
            assert "@sha256:" in image or re.search(r":[\w.-]+$", image.rsplit("/", 1)[-1]), image
            assert not image.endswith(":latest"), f"{name}: {image}"


@pytest.mark.parametrize("target", TARGETS)
def test_no_secret_values_in_the_repo(target: str) -> None:
    docs = render(target)
    assert [d for d in docs if d["kind"] == "Secret"] == []
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            assert not any(re.search(r"key|token|password|secret", k, re.I) for k in doc["data"])


@pytest.mark.parametrize("target", TARGETS)
def test_pods_are_locked_down(target: str) -> None:
    pods = list(pod_specs(render(target)))
    assert len(pods) == 2
    for name, pod in pods:
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] > 0, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in containers(pod):
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}, name
        for container in pod["containers"]:
            writable = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert writable.get("/tmp") in tmp_volumes, f"{name}: no writable /tmp"
    namespace = find(render(target), "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("target", TARGETS)
def test_references_resolve(target: str) -> None:
    docs = render(target)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for name, pod in pod_specs(docs):
        assert ("ServiceAccount", pod["serviceAccountName"]) in names, name
        for volume in pod["volumes"]:
            if "persistentVolumeClaim" in volume:
                assert (
                    "PersistentVolumeClaim",
                    volume["persistentVolumeClaim"]["claimName"],
                ) in names
        for container in containers(pod):
            for source in container.get("envFrom", []):
                assert ("ConfigMap", source["configMapRef"]["name"]) in names, name
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                assert ref is None or ref.get("optional") is True, (
                    "a required Secret not in the repo"
                )
    for doc in docs:
        if doc["kind"] == "Ingress":
            spec = doc["spec"]
            backends = (
                [spec["defaultBackend"]]
                if "defaultBackend" in spec
                else [p["backend"] for r in spec["rules"] for p in r["http"]["paths"]]
            )
            for backend in backends:
                service = find(docs, "Service", backend["service"]["name"])
                assert backend["service"]["port"]["name"] in {
                    p["name"] for p in service["spec"]["ports"]
                }
        if doc["kind"] == "PersistentVolume":
            claim = doc["spec"]["claimRef"]
            pvc = find(docs, "PersistentVolumeClaim", claim["name"])
            assert pvc["metadata"]["namespace"] == claim["namespace"]
            assert pvc["spec"]["volumeName"] == doc["metadata"]["name"]
            assert pvc["spec"]["storageClassName"] == doc["spec"]["storageClassName"] == ""
            assert set(pvc["spec"]["accessModes"]) <= set(doc["spec"]["accessModes"])
        if doc["kind"] == "Service" and "cloud.google.com/backend-config" in doc["metadata"].get(
            "annotations", {}
        ):
            config = json.loads(doc["metadata"]["annotations"]["cloud.google.com/backend-config"])
            find(docs, "BackendConfig", config["default"])


# -- the overlays ----------------------------------------------------------------------------


def annotations(doc: dict[str, Any]) -> dict[str, str]:
    return doc["metadata"].get("annotations", {})


def unhashed(doc: dict[str, Any]) -> str:
    """The object as JSON with generated ConfigMap hash suffixes removed (settings and the
    trusted signing key differ per environment)."""
    pattern = r"(-settings|trusted-keys)-[a-z0-9]{10}\b"
    return re.sub(pattern, r"\1", json.dumps(doc, sort_keys=True))


def test_overlays_differ_where_they_should() -> None:
    gke, eks = render("overlays/gke"), render("overlays/eks")
    for sa in ("serving-api", "churn-drift"):
        assert annotations(find(gke, "ServiceAccount", sa)).keys() == {
            "iam.gke.io/gcp-service-account"
        }
        assert annotations(find(eks, "ServiceAccount", sa)).keys() == {"eks.amazonaws.com/role-arn"}
    assert find(gke, "PersistentVolume")["spec"]["csi"]["driver"] == "gcsfuse.csi.storage.gke.io"
    assert find(eks, "PersistentVolume")["spec"]["csi"]["driver"] == "s3.csi.aws.com"
    assert (
        find(eks, "PersistentVolume")["spec"]["csi"]["volumeAttributes"]["authenticationSource"]
        == "pod"
    )
    assert annotations(find(gke, "Ingress"))["kubernetes.io/ingress.class"] == "gce"
    assert find(eks, "Ingress")["spec"]["ingressClassName"] == "alb"
    assert json.loads(annotations(find(gke, "Service", "serving-api"))["cloud.google.com/neg"]) == {
        "ingress": True
    }
    assert not any(d["kind"] == "BackendConfig" for d in eks)
    # Cloud Storage FUSE needs its sidecar in every pod that mounts the bucket; Mountpoint does not.
    for docs, expected in ((gke, {"gke-gcsfuse/volumes": "true"}), (eks, {})):
        rollout = find(docs, "Rollout")["spec"]["template"]["metadata"]
        cron = find(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]
        assert rollout.get("annotations", {}) == cron.get("annotations", {}) == expected
    # Mountpoint: an fsync ends the object, so no periodic fsync before rotation.
    eks_settings = configmap(eks, "serving-api-settings")
    assert float(eks_settings["SERVING_CAPTURE_FSYNC_SECONDS"]) > float(
        eks_settings["SERVING_CAPTURE_MAX_FILE_SECONDS"]
    )
    # ... and what must not differ: the workload, its rollout and its monitoring.
    for kind, name in (
        ("AnalysisTemplate", None),
        ("PrometheusRule", None),
        ("HorizontalPodAutoscaler", None),
        ("CronJob", None),
    ):
        a, b = copy.deepcopy(find(gke, kind, name)), find(eks, kind, name)
        if kind == "CronJob":
            a["spec"]["jobTemplate"]["spec"]["template"]["metadata"].pop("annotations")
        assert unhashed(a) == unhashed(b), kind
    assert find(gke, "Rollout")["spec"]["strategy"] == find(eks, "Rollout")["spec"]["strategy"]


# -- the drift job's command, run for real ---------------------------------------------------


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command/args (unknown references stay as written)."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), value)


def test_drift_cronjob_commands_run(
    serving_api: LiveServing, bundle_dir: Path, pushgateway: str, tmp_path: Path
) -> None:
    """The CronJob's init and main containers, with the rendered settings and only the paths
    and the Pushgateway URL pointed at local ones: the reference copy works, the shell line
    runs churn-core drift over serving-api's captures and pushes to a real Pushgateway."""
    import httpx

    docs = render("overlays/eks")
    pod = find(docs, "CronJob", "churn-drift")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {**configmap(docs, "serving-api-settings"), **configmap(docs, "churn-drift-settings")}
    env.update(
        SERVING_MODEL_DIR=str(bundle_dir),
        REFERENCE_DIR=str(tmp_path / "reference" / "model"),
        CAPTURE_DIR=str(serving_api.capture_dir),
        PUSHGATEWAY_URL=pushgateway,
    )
    process_env = {
        **os.environ,
        **env,
        "PATH": f"{Path(tool('churn-core') or '').parent}:{os.environ['PATH']}",
    }
    for container in [*pod["initContainers"], *pod["containers"]]:
        command = [
            expand(part, env) for part in [*container["command"], *container.get("args", [])]
        ]
        if command[0] == "python":
            command[0] = tool("python") or "python"
        result = subprocess.run(
            command, env=process_env, capture_output=True, text=True, timeout=300, check=False
        )
        if container["name"] == "reference":
            assert result.returncode == 0, result.stderr
            assert (tmp_path / "reference" / "model" / "manifest.json").exists()
        else:
            assert result.returncode in (0, 1), result.stderr  # no drift / drift: both push
            report = json.loads(result.stdout)
            assert report["current"]["rows"] >= 300  # --since kept the fresh captures
    pushed = httpx.get(f"{pushgateway}/metrics", timeout=10).text
    assert re.search(
        r'^churn_drift_rows_checked\{[^}]*job="churn-drift"[^}]*\} [1-9]', pushed, re.M
    )


@pytest.mark.parametrize("target", TARGETS)
def test_trusted_keys_come_from_a_read_only_configmap(target: str) -> None:
    """serving-api and the drift job verify bundles against public keys in a ConfigMap, mounted
    read-only; each overlay brings its own environment's key."""
    docs = render(target)
    keys = configmap(docs, "trusted-keys")
    assert list(keys) == ["model-signing.pub"]
    assert "PRIVATE" not in keys["model-signing.pub"]
    if target != "base":
        assert f"({target.rsplit('/', 1)[-1]})" in keys["model-signing.pub"]
    checked = []
    for name, pod in pod_specs(docs):
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if "CHURN_TRUSTED_PUBLIC_KEYS" not in env:
                continue
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            for path in env["CHURN_TRUSTED_PUBLIC_KEYS"].split(","):
                directory, file_name = path.rsplit("/", 1)
                mount = mounts[directory]
                assert mount.get("readOnly") is True, name
                source = volumes[mount["name"]]["configMap"]
                assert re.fullmatch(r"trusted-keys-[a-z0-9]{10}", source["name"]), name
                assert source["defaultMode"] == 0o444 and file_name in keys, name
            checked.append(container["name"])
    assert sorted(checked) == ["drift", "serving-api"]
