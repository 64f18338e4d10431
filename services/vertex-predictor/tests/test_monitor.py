"""`vertex-predictor monitor` (create, --status, --delete) and its part in `status` and
`delete`: the aiplatform SDK against the fake Vertex REST API, checking the exact job body.

The fake stores and returns the job; it does not run it: no sampling into BigQuery, no skew
or drift statistics, no e-mail. What Vertex does with the job is Google's side."""

from __future__ import annotations

from pathlib import Path

import pytest

from churn_core.drift import Thresholds, per_feature_distance_thresholds

from .fake_vertex_api import FakeVertexApi
from .test_deploy import Cli

TRAINING = "gs://churn-data/train/Churn_Modelling.csv"


@pytest.fixture
def vp(fake_vertex: FakeVertexApi, gcs_emulator: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(fake_vertex, capsys)


def test_default_thresholds_are_churn_core_drift_thresholds_in_vertex_distances() -> None:
    derived = per_feature_distance_thresholds()
    psi = Thresholds().psi
    assert derived["Age"] == pytest.approx(psi / 8, abs=1e-4)  # Jensen-Shannon, numeric
    assert derived["Geography"] == pytest.approx((psi / 4) ** 0.5, abs=1e-4)  # L-inf, category
    stricter = per_feature_distance_thresholds(Thresholds(psi=0.1))
    assert stricter["Age"] < derived["Age"]


def test_monitor_create_status_and_delete(vp: Cli, bundle_dir: Path) -> None:
    endpoint = vp("deploy", "--model", vp.upload(bundle_dir)["model"])["endpoint"]
    deployed_id = vp("status")["deployed_models"][0]["id"]
    created = vp(
        "monitor", "--training-data", TRAINING, "--email", "ml@bank.example",
        "--email", "oncall@bank.example", "--thresholds", "Age=0.05",
        "--sampling-rate", "0.5", "--interval-hours", "6", "--log-ttl-days", "14",
    )  # fmt: skip
    (create,) = vp.api.requests_to("/modelDeploymentMonitoringJobs")
    job = create.body
    expected = {**per_feature_distance_thresholds(), "Age": 0.05}
    values = {k: {"value": v} for k, v in expected.items()}
    assert job["endpoint"] == endpoint
    assert job["displayName"] == "churn-endpoint-monitoring"
    assert job["modelDeploymentMonitoringObjectiveConfigs"] == [
        {
            "deployedModelId": deployed_id,
            "objectiveConfig": {
                "trainingDataset": {"gcsSource": {"uris": [TRAINING]}, "dataFormat": "csv",
                                    "targetField": "Exited"},
                "trainingPredictionSkewDetectionConfig": {"skewThresholds": values},
                "predictionDriftDetectionConfig": {"driftThresholds": values},
            },
        }
    ]  # fmt: skip
    assert job["loggingSamplingStrategy"] == {"randomSampleConfig": {"sampleRate": 0.5}}
    assert job["modelDeploymentMonitoringScheduleConfig"] == {"monitorInterval": "21600s"}
    assert job["modelMonitoringAlertConfig"] == {
        "emailAlertConfig": {"userEmails": ["ml@bank.example", "oncall@bank.example"]},
        "enableLogging": True,
    }
    (patch,) = [r for r in vp.api.requests if r.method == "PATCH"]
    assert patch.query["updateMask"] == ["logTtl"]
    assert patch.body["logTtl"] == f"{14 * 86400}s"
    assert created["interval_hours"] == 6
    assert created["alert_emails"] == ["ml@bank.example", "oncall@bank.example"]

    (shown,) = vp("monitor", "--status")["monitoring_jobs"]
    assert shown["name"] == created["name"]
    assert shown["state"] == "JOB_STATE_PENDING"
    assert shown["sampling_rate"] == 0.5
    assert vp("status")["monitoring_jobs"] == [shown]

    removed = vp("monitor", "--delete")
    assert removed["deleted_monitoring_jobs"] == [created["name"]]
    job_path = "/v1/" + created["name"]
    writes = [(r.method, r.path) for r in vp.api.requests if r.path.startswith(job_path)]
    assert writes[-2:] == [("POST", f"{job_path}:pause"), ("DELETE", job_path)]
    assert vp("monitor", "--status")["monitoring_jobs"] == []


def test_delete_removes_monitoring_jobs_before_the_endpoint(vp: Cli, bundle_dir: Path) -> None:
    endpoint = vp("deploy", "--model", vp.upload(bundle_dir)["model"])["endpoint"]
    job = vp("monitor", "--training-data", TRAINING, "--email", "ml@bank.example")["name"]
    result = vp("delete")
    assert result["deleted_monitoring_jobs"] == [job]
    deletes = [r.path for r in vp.api.requests if r.method == "DELETE"]
    assert deletes == [f"/v1/{job}", f"/v1/{endpoint}"]
    assert vp.api.state.monitoring_jobs == {}


def test_monitor_refuses_what_vertex_cannot_use(vp: Cli, bundle_dir: Path) -> None:
    vp("deploy", "--model", vp.upload(bundle_dir)["model"])
    assert "gs:// CSV" in vp(
        "monitor", "--training-data", "train.csv", "--email", "a@b.c", expect=1
    )
    assert "--training-data and --email" in vp("monitor", "--training-data", TRAINING, expect=1)
    assert vp.api.requests_to("/modelDeploymentMonitoringJobs") == []
