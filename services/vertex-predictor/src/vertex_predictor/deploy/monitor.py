"""Vertex AI Model Monitoring of an endpoint: one ModelDeploymentMonitoringJob that samples
the endpoint's requests into BigQuery and, every ``interval_hours``, compares them with the
training data (skew) and with the previous window (drift), e-mailing when a feature passes
its threshold.

The default per-feature thresholds are churn-core's drift thresholds restated in the
distances Vertex measures (``churn_core.drift.per_feature_distance_thresholds``), so the
managed monitor and ``churn-core drift`` flag the same size of shift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from churn_core.drift import per_feature_distance_thresholds
from churn_core.schema import LABEL
from vertex_predictor.deploy.client import DeployError, find_endpoint, require_endpoint
from vertex_predictor.deploy.endpoint import DEFAULT_ENDPOINT_NAME

if TYPE_CHECKING:
    from google.cloud import aiplatform


def jobs_of(endpoint: aiplatform.Endpoint) -> list[aiplatform.ModelDeploymentMonitoringJob]:
    """The monitoring jobs watching ``endpoint`` (the API lists by location, not endpoint)."""
    from google.cloud import aiplatform

    return [
        job
        for job in aiplatform.ModelDeploymentMonitoringJob.list()
        if job.gca_resource.endpoint == endpoint.resource_name
    ]


def job_summary(job: aiplatform.ModelDeploymentMonitoringJob) -> dict[str, Any]:
    resource = job.gca_resource
    alerts = resource.model_monitoring_alert_config.email_alert_config
    interval = resource.model_deployment_monitoring_schedule_config.monitor_interval
    return {
        "name": resource.name,
        "display_name": resource.display_name,
        "state": resource.state.name,
        "interval_hours": int(interval.total_seconds() // 3600) if interval else None,
        "sampling_rate": resource.logging_sampling_strategy.random_sample_config.sample_rate,
        "alert_emails": list(alerts.user_emails),
    }


def create_monitor(
    training_data: str,
    emails: Sequence[str],
    endpoint_ref: str = DEFAULT_ENDPOINT_NAME,
    thresholds: Mapping[str, float] | None = None,
    sampling_rate: float = 0.8,
    interval_hours: int = 1,
    log_ttl_days: int | None = 30,
) -> dict[str, Any]:
    """Create the monitoring job: skew against ``training_data`` (a gs:// CSV with the
    Exited target column) and drift, on every deployed model of the endpoint."""
    from google.cloud import aiplatform
    from google.cloud.aiplatform import model_monitoring as mm

    if not training_data.startswith("gs://"):
        raise DeployError("--training-data must be a gs:// CSV (Vertex reads it, not this tool)")
    if not 0.0 < sampling_rate <= 1.0 or interval_hours < 1:
        raise DeployError("need 0 < sampling rate <= 1 and an interval of at least one hour")
    endpoint = require_endpoint(endpoint_ref)
    if not endpoint.gca_resource.deployed_models:
        raise DeployError(f"endpoint {endpoint.resource_name} has no deployed model to monitor")
    per_feature = {**per_feature_distance_thresholds(), **(thresholds or {})}
    objective = mm.ObjectiveConfig(
        skew_detection_config=mm.SkewDetectionConfig(
            data_source=training_data, target_field=LABEL, skew_thresholds=per_feature,
            data_format="csv",
        ),
        drift_detection_config=mm.DriftDetectionConfig(drift_thresholds=per_feature),
    )  # fmt: skip
    job = aiplatform.ModelDeploymentMonitoringJob.create(
        display_name=f"{endpoint.display_name}-monitoring",
        endpoint=endpoint,
        objective_configs=objective,
        logging_sampling_strategy=mm.RandomSampleConfig(sample_rate=sampling_rate),
        schedule_config=mm.ScheduleConfig(monitor_interval=interval_hours),
        alert_config=mm.EmailAlertConfig(user_emails=list(emails), enable_logging=True),
    )
    if log_ttl_days is not None:
        # The SDK's create() takes bigquery_tables_log_ttl but does not send it; update does.
        job.update(bigquery_tables_log_ttl=log_ttl_days)
    return {"endpoint": endpoint.resource_name, "thresholds": per_feature, **job_summary(job)}


def monitor_status(endpoint_ref: str = DEFAULT_ENDPOINT_NAME) -> dict[str, Any]:
    endpoint = require_endpoint(endpoint_ref)
    return {
        "endpoint": endpoint.resource_name,
        "monitoring_jobs": [job_summary(j) for j in jobs_of(endpoint)],
    }


def delete_monitors(endpoint_ref: str = DEFAULT_ENDPOINT_NAME) -> dict[str, Any]:
    """Pause, then delete, every monitoring job of the endpoint; none is not an error."""
    endpoint = find_endpoint(endpoint_ref)
    if endpoint is None:
        return {"endpoint": endpoint_ref, "deleted_monitoring_jobs": []}
    deleted = []
    for job in jobs_of(endpoint):
        if job.gca_resource.state.name in ("JOB_STATE_RUNNING", "JOB_STATE_PENDING"):
            job.pause()
        job.delete()
        deleted.append(job.resource_name)
    return {"endpoint": endpoint.resource_name, "deleted_monitoring_jobs": deleted}
