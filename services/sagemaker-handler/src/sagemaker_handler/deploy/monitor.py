"""Model Monitor data quality: a baseline job over the training features, and an hourly
schedule that checks the endpoint's captured requests against that baseline."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from churn_core.schema import FEATURE_NAMES, customers_to_csv
from sagemaker_handler.deploy.client import AwsOps, DeployError, resource_name, stamp
from sagemaker_handler.deploy.endpoint import EndpointSettings
from sagemaker_handler.deploy.images import monitor_image_uri

HOURLY = "cron(0 * ? * * *)"
MONITOR_INPUT = "/opt/ml/processing/input/baseline_dataset_input"
MONITOR_OUTPUT = "/opt/ml/processing/output"


def features_only_csv(source: Path) -> bytes:
    """The baseline must have the columns the endpoint captures: the ten features, in order."""
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [n for n in FEATURE_NAMES if n not in (reader.fieldnames or [])]
        if missing:
            raise DeployError(f"{source} lacks the feature columns {', '.join(missing)}")
        return customers_to_csv(reader, header=True).encode()


def monitor(
    ops: AwsOps,
    settings: EndpointSettings,
    baseline: str,
    monitor_instance_type: str = "ml.m5.xlarge",
    schedule: str = HOURLY,
) -> dict[str, str]:
    """A data-quality baseline job on the training features, and an hourly monitoring schedule
    over the endpoint's captured requests, checked against that baseline."""
    suffix = stamp()
    if baseline.startswith("s3://"):
        baseline_uri = baseline
    else:
        key = f"{settings.prefix.strip('/')}/monitoring/baseline-data/{suffix}/baseline.csv"
        body = features_only_csv(Path(baseline))
        ops.call("s3", "put_object", Bucket=settings.bucket, Key=key, Body=body)
        baseline_uri = f"s3://{settings.bucket}/{key}"
    image = monitor_image_uri(ops.region)
    results = settings.s3_uri("monitoring", "baseline", suffix)
    cluster = {"InstanceCount": 1, "InstanceType": monitor_instance_type, "VolumeSizeInGB": 20}
    if settings.kms_key_id:
        cluster["VolumeKmsKeyId"] = settings.kms_key_id
    job_name = resource_name(f"{settings.endpoint_name}-baseline", suffix)
    ops.call(
        "sagemaker", "create_processing_job",
        ProcessingJobName=job_name,
        RoleArn=settings.role_arn,
        AppSpecification={"ImageUri": image},
        ProcessingResources={"ClusterConfig": cluster},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Environment={
            "dataset_format": json.dumps({"csv": {"header": True}}),
            "dataset_source": MONITOR_INPUT,
            "output_path": MONITOR_OUTPUT,
            "publish_cloudwatch_metrics": "Disabled",
        },
        ProcessingInputs=[{
            "InputName": "baseline_dataset_input",
            "S3Input": {
                "S3Uri": baseline_uri, "LocalPath": MONITOR_INPUT, "S3DataType": "S3Prefix",
                "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
            },
        }],
        ProcessingOutputConfig={"Outputs": [{
            "OutputName": "monitoring_output",
            "S3Output": {"S3Uri": results, "LocalPath": MONITOR_OUTPUT, "S3UploadMode": "EndOfJob"},
        }]},
    )  # fmt: skip
    definition = resource_name(f"{settings.endpoint_name}-data-quality", suffix)
    ops.call(
        "sagemaker", "create_data_quality_job_definition",
        JobDefinitionName=definition,
        DataQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": f"{results}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{results}/statistics.json"},
        },
        DataQualityAppSpecification={"ImageUri": image},
        DataQualityJobInput={"EndpointInput": {
            "EndpointName": settings.endpoint_name,
            "LocalPath": "/opt/ml/processing/input/endpoint",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        }},
        DataQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {
            "S3Uri": settings.s3_uri("monitoring", "reports"),
            "LocalPath": MONITOR_OUTPUT,
            "S3UploadMode": "EndOfJob",
        }}]},
        JobResources={"ClusterConfig": cluster},
        RoleArn=settings.role_arn,
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
    )  # fmt: skip
    schedule_name = resource_name(settings.endpoint_name, "data-quality")
    ops.call(
        "sagemaker", "create_monitoring_schedule",
        MonitoringScheduleName=schedule_name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": schedule},
            "MonitoringJobDefinitionName": definition,
            "MonitoringType": "DataQuality",
        },
    )  # fmt: skip
    ops.say(f"baseline job {job_name} → {results}; schedule {schedule_name} ({schedule})")
    return {"baseline_job": job_name, "job_definition": definition, "schedule": schedule_name}
