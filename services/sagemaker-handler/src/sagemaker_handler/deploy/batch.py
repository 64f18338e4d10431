"""Batch Transform: score files in S3 with the endpoint's model, no endpoint needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker_handler.deploy.client import AwsOps, poll, resource_name, stamp

FORMATS = {"csv": "text/csv", "jsonl": "application/jsonlines"}


@dataclass
class BatchSettings:
    model_name: str
    input_uri: str
    output_uri: str
    data_format: str = "csv"
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    kms_key_id: str | None = None
    max_concurrent: int = 0  # 0: let SageMaker choose


def batch(ops: AwsOps, settings: BatchSettings) -> str:
    """A Batch Transform job: input split by line, many records per request, lines reassembled."""
    media_type = FORMATS[settings.data_format]
    job_name = resource_name(f"{settings.model_name[:40]}-batch", stamp())
    output: dict[str, Any] = {
        "S3OutputPath": settings.output_uri,
        "Accept": media_type,
        "AssembleWith": "Line",
    }
    resources: dict[str, Any] = {
        "InstanceType": settings.instance_type,
        "InstanceCount": settings.instance_count,
    }
    if settings.kms_key_id:
        output["KmsKeyId"] = settings.kms_key_id
        resources["VolumeKmsKeyId"] = settings.kms_key_id
    params: dict[str, Any] = {
        "TransformJobName": job_name,
        "ModelName": settings.model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": settings.input_uri}},
            "ContentType": media_type,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": output,
        "TransformResources": resources,
    }
    if settings.max_concurrent:
        params["MaxConcurrentTransforms"] = settings.max_concurrent
    ops.call("sagemaker", "create_transform_job", **params)
    ops.say(f"transform job {job_name}: {settings.input_uri} → {settings.output_uri}")
    return job_name


def wait_for_transform(ops: AwsOps, job_name: str, timeout_s: float, poll_s: float) -> str:
    """Poll until Completed; fail on Failed or Stopped or after ``timeout_s``."""
    return poll(
        ops, f"transform job {job_name}",
        lambda: ops.call("sagemaker", "describe_transform_job", TransformJobName=job_name),
        "TransformJobStatus", "Completed", ("Failed", "Stopped"),
        timeout_s, poll_s,
    )  # fmt: skip
