"""`vertex-predictor upload|deploy|test|status|delete|batch`: the aiplatform SDK against the
local fake Vertex REST API and the GCS emulator, checking the exact requests the SDK sends."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

import churn_core
from churn_core.samples import SAMPLE_CUSTOMERS
from vertex_predictor import cli

from .cpr_process import CprServer
from .fake_vertex_api import FakeVertexApi

PROJECT = "churn-test-project"
REGION = "europe-west4"
IMAGE = "europe-west4-docker.pkg.dev/churn-test-project/churn/vertex-predictor:0.1.0"
PARENT = f"/v1/projects/{PROJECT}/locations/{REGION}"


def _last_json(text: str) -> Any:
    lines = text.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith("{"):
            try:
                return json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                continue
    raise AssertionError(f"no JSON result in output:\n{text}")


class Cli:
    def __init__(self, api: FakeVertexApi, capsys: pytest.CaptureFixture[str]) -> None:
        self.api = api
        self.capsys = capsys

    def __call__(self, *args: str, expect: int = 0) -> Any:
        self.capsys.readouterr()
        command, *rest = args
        target = ["--project", PROJECT, "--region", REGION, "--api-endpoint", self.api.url]
        code = cli.main([command, *target, *rest])
        captured = self.capsys.readouterr()
        assert code == expect, captured.err
        return _last_json(captured.out) if expect == 0 else captured.err

    def upload(self, bundle_dir: Path, *extra: str, expect: int = 0) -> Any:
        return self(
            "upload",
            *("--model-dir", str(bundle_dir), "--bucket", "gs://churn-models/vertex"),
            *("--image", IMAGE),
            *extra,
            expect=expect,
        )


@pytest.fixture
def vp(fake_vertex: FakeVertexApi, gcs_emulator: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(fake_vertex, capsys)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_upload_copies_the_bundle_and_registers_the_model(vp: Cli, bundle_dir: Path) -> None:
    version = churn_core.Predictor.from_bundle(bundle_dir).model_version
    result = vp.upload(bundle_dir, "--env", "LOG_LEVEL=debug,CHURN_MAX_INSTANCES=500")

    artifact_uri = f"gs://churn-models/vertex/{version}"
    assert result["artifact_uri"] == artifact_uri
    assert result["model"].startswith(f"projects/{PROJECT}/locations/{REGION}/models/")
    blobs = {
        b.name: b.download_as_bytes()
        for b in storage.Client().list_blobs("churn-models", prefix=f"vertex/{version}/")
    }
    local = {f"vertex/{version}/{p.name}": p.read_bytes() for p in bundle_dir.iterdir()}
    assert {k: _sha256(v) for k, v in blobs.items()} == {k: _sha256(v) for k, v in local.items()}

    (upload,) = vp.api.requests_to("/models:upload")
    assert upload.path == f"{PARENT}/models:upload"
    model = upload.body["model"]
    assert model["displayName"] == "churn-model"
    assert model["artifactUri"] == artifact_uri
    assert model["containerSpec"] == {
        "imageUri": IMAGE,
        "predictRoute": "/predict",
        "healthRoute": "/health",
        "ports": [{"containerPort": 8080}],
        "env": [
            {"name": "VERTEX_CPR_WEB_CONCURRENCY", "value": "2"},
            {"name": "CHURN_MAX_INSTANCES", "value": "500"},
            {"name": "LOG_LEVEL", "value": "debug"},
        ],
    }
    assert model["labels"] == {"model_version": version.lower()}


def test_upload_refuses_a_tampered_bundle(vp: Cli, bundle_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    copy.mkdir()
    for path in bundle_dir.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    with (copy / "model.txt").open("a") as model_file:
        model_file.write("\n")
    error = vp.upload(copy, expect=1)
    assert "checksum mismatch for model.txt" in error
    assert vp.api.requests == []


def test_deploy_creates_the_endpoint_and_deploys(vp: Cli, bundle_dir: Path) -> None:
    model = vp.upload(bundle_dir)["model"]
    status = vp(
        "deploy",
        *("--model", model, "--endpoint", "churn-endpoint", "--max-replicas", "3"),
        "--request-response-logging",
        *("--logging-sampling-rate", "0.25"),
        *("--logging-bigquery-table", "bq://churn-test-project.vertex_logs.churn"),
    )

    (create,) = vp.api.requests_to("/endpoints")
    assert create.path == f"{PARENT}/endpoints"
    assert create.body == {
        "displayName": "churn-endpoint",
        "predictRequestResponseLoggingConfig": {
            "enabled": True,
            "samplingRate": 0.25,
            "bigqueryDestination": {"outputUri": "bq://churn-test-project.vertex_logs.churn"},
        },
    }
    (deploy,) = vp.api.requests_to(":deployModel")
    assert deploy.body["deployedModel"]["model"].split("@")[0] == model
    assert deploy.body["deployedModel"]["displayName"] == "churn-model"
    assert deploy.body["deployedModel"]["dedicatedResources"] == {
        "machineSpec": {"machineType": "n1-standard-2"},
        "minReplicaCount": 1,
        "maxReplicaCount": 3,
    }
    assert deploy.body["trafficSplit"] == {"0": 100}

    (deployed,) = status["deployed_models"]
    assert status["display_name"] == "churn-endpoint"
    assert status["traffic_split"] == {deployed["id"]: 100}
    assert deployed | {"model": model} == {
        "id": deployed["id"],
        "model": model,
        "display_name": "churn-model",
        "machine_type": "n1-standard-2",
        "min_replicas": 1,
        "max_replicas": 3,
    }
    assert status["request_response_logging"]["enabled"] is True


def test_canary_deploy_reuses_the_endpoint_with_a_traffic_split(vp: Cli, bundle_dir: Path) -> None:
    first = vp.upload(bundle_dir)["model"]
    stable_id = vp("deploy", "--model", first)["deployed_models"][0]["id"]
    second = vp.upload(bundle_dir, "--display-name", "churn-model-canary")["model"]
    status = vp(
        "deploy",
        *("--model", "churn-model-canary"),  # by display name
        *("--traffic-split", f"0=10,{stable_id}=90", "--min-replicas", "2", "--max-replicas", "2"),
    )

    assert len(vp.api.requests_to("/endpoints")) == 1  # created once, then found by name
    canary = vp.api.requests_to(":deployModel")[1].body
    assert canary["deployedModel"]["model"].split("@")[0] == second
    assert canary["trafficSplit"] == {"0": 10, stable_id: 90}
    assert canary["deployedModel"]["dedicatedResources"]["minReplicaCount"] == 2
    canary_id = next(d["id"] for d in status["deployed_models"] if d["id"] != stable_id)
    assert status["traffic_split"] == {stable_id: 90, canary_id: 10}
    assert vp("status")["traffic_split"] == {stable_id: 90, canary_id: 10}


def test_deploy_rejects_a_split_that_does_not_add_up(vp: Cli, bundle_dir: Path) -> None:
    model = vp.upload(bundle_dir)["model"]
    error = vp("deploy", "--model", model, "--traffic-split", "0=50,123=20", expect=1)
    assert "add up to 100" in error
    assert vp.api.requests_to(":deployModel") == []


def test_test_command_predicts_through_the_endpoint(
    vp: Cli, bundle_dir: Path, cpr_server: CprServer
) -> None:
    vp.api.serve_predictions_from(f"{cpr_server.url}/predict")
    vp("deploy", "--model", vp.upload(bundle_dir)["model"])
    result = vp("test", "--explain")

    (predict,) = vp.api.requests_to(":predict")
    assert predict.body == {"instances": SAMPLE_CUSTOMERS, "parameters": {"explain": True}}
    direct = churn_core.Predictor.from_bundle(bundle_dir).predict(SAMPLE_CUSTOMERS, explain=True)
    for served, expected in zip(result["predictions"], direct, strict=True):
        assert abs(served["churn_probability"] - expected.churn_probability) <= 1e-9
        assert served["risk_level"] == expected.risk_level
        assert served["churn_prediction"] == expected.churn_prediction
        total = served["base_value"] + sum(served["feature_contributions"].values())
        assert abs(total - served["churn_probability"]) <= 1e-6


def test_missing_endpoint_is_reported(vp: Cli) -> None:
    assert "not found" in vp("status", "--endpoint", "nope", expect=1)
    assert "not found" in vp("test", "--endpoint", "123456", expect=1)


def test_delete_undeploys_and_deletes_and_is_idempotent(vp: Cli, bundle_dir: Path) -> None:
    model = vp.upload(bundle_dir)["model"]
    endpoint = vp("deploy", "--model", model)["endpoint"]

    result = vp("delete", "--delete-models")
    assert result["deleted"] is True
    assert [m.split("@")[0] for m in result["undeployed_models"]] == [model]
    (undeploy,) = vp.api.requests_to(":undeployModel")
    assert undeploy.path == f"/v1/{endpoint}:undeployModel"
    assert [r.path for r in vp.api.requests if r.method == "DELETE"] == [
        f"/v1/{endpoint}",
        f"/v1/{model}",
    ]
    assert vp.api.state.endpoints == {}
    assert vp.api.state.models == {}

    again = vp("delete")
    assert again == {"endpoint": "churn-endpoint", "deleted": False, "reason": "not found"}
    assert vp("delete", "--endpoint", endpoint)["deleted"] is False
    assert len([r for r in vp.api.requests if r.method == "DELETE"]) == 2


def test_batch_creates_a_job_from_gcs_jsonl(vp: Cli, bundle_dir: Path) -> None:
    lines = "\n".join(json.dumps(c) for c in SAMPLE_CUSTOMERS) + "\n"
    storage.Client().bucket("churn-models").blob("batch/in/customers.jsonl").upload_from_string(
        lines
    )
    model = vp.upload(bundle_dir)["model"]
    result = vp(
        "batch",
        *("--model", model, "--source", "gs://churn-models/batch/in/customers.jsonl"),
        *("--destination", "gs://churn-models/batch/out", "--max-replicas", "8"),
        *("--explain", "--wait", "--poll-seconds", "0"),
    )

    (create,) = vp.api.requests_to("/batchPredictionJobs")
    assert create.path == f"{PARENT}/batchPredictionJobs"
    body = create.body
    assert body["model"].split("@")[0] == model
    assert body["inputConfig"] == {
        "instancesFormat": "jsonl",
        "gcsSource": {"uris": ["gs://churn-models/batch/in/customers.jsonl"]},
    }
    assert body["outputConfig"] == {
        "predictionsFormat": "jsonl",
        "gcsDestination": {"outputUriPrefix": "gs://churn-models/batch/out"},
    }
    assert body["dedicatedResources"] == {
        "machineSpec": {"machineType": "n1-standard-2"},
        "startingReplicaCount": 1,
        "maxReplicaCount": 8,
    }
    assert body["modelParameters"] == {"explain": True}
    assert result["state"] == "JOB_STATE_SUCCEEDED"
    assert result["output_directory"].startswith("gs://churn-models/batch/out/")


def test_batch_refuses_a_missing_source(vp: Cli, bundle_dir: Path) -> None:
    model = vp.upload(bundle_dir)["model"]
    error = vp(
        "batch",
        *("--model", model, "--source", "gs://churn-models/batch/missing.jsonl"),
        *("--destination", "gs://churn-models/batch/out"),
        expect=1,
    )
    assert "does not exist" in error
    assert vp.api.requests_to("/batchPredictionJobs") == []


def test_every_call_goes_to_the_given_project_and_region(vp: Cli, bundle_dir: Path) -> None:
    vp("deploy", "--model", vp.upload(bundle_dir)["model"])
    vp("status")
    vp("delete")
    assert vp.api.requests
    assert all(r.path.startswith(PARENT + "/") for r in vp.api.requests)


def test_project_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["status", "--api-endpoint", "http://127.0.0.1:9"])
    assert caught.value.code == 2
    assert "--project" in capsys.readouterr().err
