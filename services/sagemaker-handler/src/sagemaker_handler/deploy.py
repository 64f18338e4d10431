"""SageMaker deploy tooling. Every AWS call goes through boto3 (``AwsOps.call``), so a moto server
or botocore's Stubber sees each call and its parameters, and ``--dry-run`` can print them instead.
The sagemaker SDK is used offline only, to resolve framework image URIs per region.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError

from sagemaker_handler.packaging import TARGET_RUNTIME, read_runtime

VARIANT = "AllTraffic"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
HOURLY = "cron(0 * ? * * *)"
MONITOR_INPUT = "/opt/ml/processing/input/baseline_dataset_input"
MONITOR_OUTPUT = "/opt/ml/processing/output"
FORMATS = {"csv": "text/csv", "jsonl": "application/jsonlines"}


class DeployError(RuntimeError):
    pass


@dataclass
class AwsOps:
    region: str
    endpoint_url: str | None = None
    dry_run: bool = False
    session: boto3.Session | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    sleep: Callable[[float], None] = time.sleep
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            session = self.session or boto3.Session()
            # endpoint_url=None lets boto3 apply AWS_ENDPOINT_URL(_<SERVICE>) itself.
            self._clients[service] = session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url
            )
        return self._clients[service]

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        if self.dry_run:
            shown = json.dumps(params, indent=2, sort_keys=True, default=_describe_blob)
            self.say(f"[dry-run] {service}.{operation}({shown})")
            return {}
        return getattr(self.client(service), operation)(**params)

    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)


def _describe_blob(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return f"<{type(value).__name__}>"


def _not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    message = str(error.get("Message", ""))
    code = str(error.get("Code", ""))
    # Real AWS says ObjectNotFoundException for a missing scalable target; moto a
    # ValidationException "No scalable target found". SageMaker says "Could not find ...".
    return code in ("ObjectNotFoundException", "ResourceNotFound", "NoSuchEntity") or (
        code == "ValidationException"
        and any(s in message for s in ("Could not find", "not found", "No scalable target"))
    )


def stamp() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime())


def resource_name(base: str, suffix: str) -> str:
    """SageMaker names: alphanumerics and hyphens, at most 63 characters."""
    base = re.sub(r"[^A-Za-z0-9-]+", "-", base).strip("-")
    return f"{base[: 62 - len(suffix)]}-{suffix}"


def framework_image_uri(region: str, version: str = TARGET_RUNTIME["framework_version"]) -> str:
    """The AWS scikit-learn image for ``region``, resolved offline by the sagemaker SDK."""
    image_uris = _sagemaker_image_uris()

    # One image serves training and inference; SDK 2.25x lists 1.4-2 under training only.
    for scope in ("inference", "training"):
        try:
            return image_uris.retrieve(
                "sklearn", region, version=version, py_version="py3", image_scope=scope,
                instance_type="ml.m5.large",
            )  # fmt: skip
        except ValueError:
            continue
    raise DeployError(f"no scikit-learn {version} image known for region {region}")


def monitor_image_uri(region: str) -> str:
    return _sagemaker_image_uris().retrieve("model-monitor", region)


def _sagemaker_image_uris() -> Any:
    # The SDK's import prints a v3 notice, config INFO lines and escape-sequence warnings from
    # its dependencies; none of it concerns an offline image lookup.
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sagemaker import image_uris
    return image_uris


@dataclass
class EndpointSettings:
    endpoint_name: str
    role_arn: str
    bucket: str
    prefix: str = "churn/sagemaker"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    variant: str = VARIANT
    image_uri: str | None = None  # None: the AWS scikit-learn framework image
    kms_key_id: str | None = None
    capture_percent: int = 100
    timeout_s: float = 1800.0
    poll_s: float = 15.0
    wait: bool = True

    def s3_uri(self, *parts: str) -> str:
        return "s3://" + "/".join([self.bucket, self.prefix.strip("/"), *parts])


def upload(ops: AwsOps, path: Path, bucket: str, key: str, kms_key_id: str | None) -> str:
    extra: dict[str, Any] = {}
    if kms_key_id:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    if ops.dry_run:
        ops.call("s3", "put_object", Bucket=bucket, Key=key, Body=path.read_bytes(), **extra)
    else:
        with path.open("rb") as body:
            ops.call("s3", "put_object", Bucket=bucket, Key=key, Body=body, **extra)
    return f"s3://{bucket}/{key}"


def deploy(ops: AwsOps, tarball: Path, settings: EndpointSettings) -> dict[str, str]:
    """Upload, create model and endpoint config, then create (or update) the endpoint."""
    runtime = read_runtime(tarball)
    suffix = stamp()
    name = resource_name(settings.endpoint_name, suffix)
    model_data = upload(
        ops, tarball, settings.bucket,
        f"{settings.prefix.strip('/')}/models/{name}/model.tar.gz", settings.kms_key_id,
    )  # fmt: skip
    image = settings.image_uri or framework_image_uri(ops.region, runtime["framework_version"])
    tags = [
        {"Key": "churn:endpoint", "Value": settings.endpoint_name},
        {"Key": "churn:model-version", "Value": runtime["model_version"]},
    ]
    ops.say(f"model {name}: {runtime['model_version']} on {image}")
    ops.call(
        "sagemaker", "create_model",
        ModelName=name,
        ExecutionRoleArn=settings.role_arn,
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": model_data,
            "Environment": {
                "SAGEMAKER_PROGRAM": runtime["sagemaker_program"],
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": ops.region,
            },
        },
        Tags=tags,
    )  # fmt: skip
    config: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": settings.variant,
                "ModelName": name,
                "InitialInstanceCount": settings.instance_count,
                "InstanceType": settings.instance_type,
                "InitialVariantWeight": 1.0,
            }
        ],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": settings.capture_percent,
            "DestinationS3Uri": settings.s3_uri("capture"),
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "JsonContentTypes": ["application/json", "application/jsonlines"],
                "CsvContentTypes": ["text/csv"],
            },
        },
        "Tags": tags,
    }
    if settings.kms_key_id:
        config["KmsKeyId"] = settings.kms_key_id
        config["DataCaptureConfig"]["KmsKeyId"] = settings.kms_key_id
    ops.call("sagemaker", "create_endpoint_config", **config)
    if _endpoint(ops, settings.endpoint_name) is None:
        ops.call(
            "sagemaker", "create_endpoint",
            EndpointName=settings.endpoint_name, EndpointConfigName=name, Tags=tags,
        )  # fmt: skip
    else:  # blue/green: SageMaker moves traffic once the new config is healthy
        ops.call(
            "sagemaker", "update_endpoint",
            EndpointName=settings.endpoint_name, EndpointConfigName=name,
        )  # fmt: skip
    if settings.wait and not ops.dry_run:
        wait_for_endpoint(ops, settings.endpoint_name, settings.timeout_s, settings.poll_s)
    return {"model": name, "endpoint_config": name, "model_data": model_data, "image": image}


def _endpoint(ops: AwsOps, endpoint_name: str) -> dict[str, Any] | None:
    if ops.dry_run:
        return None
    try:
        return ops.call("sagemaker", "describe_endpoint", EndpointName=endpoint_name)
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise


def wait_for_endpoint(ops: AwsOps, endpoint_name: str, timeout_s: float, poll_s: float) -> str:
    """Poll until InService; fail on Failed or after ``timeout_s``; print each change."""
    started, last = time.monotonic(), None
    while True:
        described = _endpoint(ops, endpoint_name)
        if described is None:
            raise DeployError(f"endpoint {endpoint_name} does not exist")
        status = described["EndpointStatus"]
        elapsed = time.monotonic() - started
        if status != last:
            ops.say(f"endpoint {endpoint_name}: {status} ({elapsed:.0f}s)")
            last = status
        if status == "InService":
            return status
        if status in ("Failed", "OutOfService", "RollingBack"):
            reason = described.get("FailureReason", "no reason given")
            raise DeployError(f"endpoint {endpoint_name} is {status}: {reason}")
        if elapsed + poll_s > timeout_s:
            raise DeployError(f"endpoint {endpoint_name} still {status} after {elapsed:.0f}s")
        ops.sleep(poll_s)


def status(ops: AwsOps, endpoint_name: str) -> dict[str, Any]:
    if ops.dry_run:
        ops.call("sagemaker", "describe_endpoint", EndpointName=endpoint_name)  # printed only
        return {}
    described = _endpoint(ops, endpoint_name)
    if described is None:
        raise DeployError(f"endpoint {endpoint_name} does not exist")
    ops.say(f"endpoint {endpoint_name}: {described['EndpointStatus']}")
    if described.get("FailureReason"):
        ops.say(f"  failure: {described['FailureReason']}")
    ops.say(f"  config: {described['EndpointConfigName']}")
    for variant in described.get("ProductionVariants", []):
        ops.say(
            f"  variant {variant['VariantName']}: {variant.get('CurrentInstanceCount')}"
            f"/{variant.get('DesiredInstanceCount')} instances, "
            f"weight {variant.get('CurrentWeight')}"
        )
    capture = described.get("DataCaptureConfig") or {}
    if capture:
        ops.say(
            f"  data capture: {capture.get('EnableCapture')} → {capture.get('DestinationS3Uri')}"
        )
    return described


def invoke(
    ops: AwsOps,
    endpoint_name: str,
    customers: Sequence[dict[str, Any]],
    explain: bool = False,
    content_type: str = "application/json",
) -> list[dict[str, Any]]:
    """Invoke with ``customers``; check the answer has one valid prediction per customer."""
    if content_type == "text/csv":
        from churn_core.schema import FEATURE_NAMES

        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(
            [customer[name] for name in FEATURE_NAMES] for customer in customers
        )
        body = buffer.getvalue().encode()
    else:
        body = json.dumps({"instances": list(customers)}).encode()
    params: dict[str, Any] = {
        "EndpointName": endpoint_name,
        "ContentType": content_type,
        "Accept": "application/json",
        "Body": body,
    }
    if explain:
        params["CustomAttributes"] = "explain=true"
    response = ops.call("sagemaker-runtime", "invoke_endpoint", **params)
    if ops.dry_run:
        return []
    answer = json.loads(response["Body"].read())
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(customers):
        raise DeployError(f"unexpected answer from {endpoint_name}: {str(answer)[:200]}")
    for prediction in predictions:
        probability = prediction.get("churn_probability")
        if not isinstance(probability, float) or not 0.0 <= probability <= 1.0:
            raise DeployError(f"invalid churn_probability in answer: {prediction}")
    return predictions


def delete(ops: AwsOps, endpoint_name: str, variant: str = VARIANT) -> list[str]:
    """Remove scaling, endpoint, its configs and models. Missing pieces are fine (idempotent)."""
    removed: list[str] = []
    configs, models = set(), set()
    described = _endpoint(ops, endpoint_name)
    if described is not None:
        configs.add(described["EndpointConfigName"])
    # Configs and models from earlier deploys or a deploy that stopped halfway.
    pattern = re.compile(re.escape(endpoint_name[:47]) + r"-\d{14}$")
    if not ops.dry_run:
        for item in _paged(ops, "list_endpoint_configs", "EndpointConfigs", endpoint_name):
            if pattern.match(item["EndpointConfigName"]):
                configs.add(item["EndpointConfigName"])
        for item in _paged(ops, "list_models", "Models", endpoint_name):
            if pattern.match(item["ModelName"]):
                models.add(item["ModelName"])
        for config in configs:
            described_config = _ignore_missing(
                ops, "sagemaker", "describe_endpoint_config", EndpointConfigName=config
            )
            for v in (described_config or {}).get("ProductionVariants", []):
                models.add(v["ModelName"])
    steps = [
        ("application-autoscaling", "deregister_scalable_target", {
            "ServiceNamespace": "sagemaker",
            "ResourceId": f"endpoint/{endpoint_name}/variant/{variant}",
            "ScalableDimension": SCALABLE_DIMENSION,
        }),
        ("sagemaker", "delete_endpoint", {"EndpointName": endpoint_name}),
        *[("sagemaker", "delete_endpoint_config", {"EndpointConfigName": c})
          for c in sorted(configs)],
        *[("sagemaker", "delete_model", {"ModelName": m}) for m in sorted(models)],
    ]  # fmt: skip
    for service, operation, params in steps:
        if _ignore_missing(ops, service, operation, **params) is not None:
            what = " ".join(str(v) for k, v in params.items() if k != "ServiceNamespace")
            removed.append(f"{operation.removeprefix('delete_')} {what}")
            ops.say(f"{operation}: {what}")
    if not removed and not ops.dry_run:
        ops.say(f"nothing to delete for {endpoint_name}")
    return removed


def _ignore_missing(ops: AwsOps, service: str, operation: str, **params: Any) -> Any:
    try:
        return ops.call(service, operation, **params)
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise


def _paged(ops: AwsOps, operation: str, key: str, name_contains: str) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        params: dict[str, Any] = {"NameContains": name_contains, "MaxResults": 100}
        if token:
            params["NextToken"] = token
        page = ops.call("sagemaker", operation, **params)
        items.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token:
            return items


@dataclass
class ScalingSettings:
    min_capacity: int = 1
    max_capacity: int = 5
    invocations_per_instance: float = 100.0
    scale_in_cooldown_s: int = 300  # slow in: avoid flapping after a burst
    scale_out_cooldown_s: int = 60


def autoscale(
    ops: AwsOps, endpoint_name: str, variant: str = VARIANT, scaling: ScalingSettings | None = None
) -> str:
    scaling = scaling or ScalingSettings()
    resource_id = f"endpoint/{endpoint_name}/variant/{variant}"
    ops.call(
        "application-autoscaling", "register_scalable_target",
        ServiceNamespace="sagemaker",
        ResourceId=resource_id,
        ScalableDimension=SCALABLE_DIMENSION,
        MinCapacity=scaling.min_capacity,
        MaxCapacity=scaling.max_capacity,
    )  # fmt: skip
    policy_name = f"{endpoint_name}-invocations-per-instance"
    ops.call(
        "application-autoscaling", "put_scaling_policy",
        PolicyName=policy_name,
        ServiceNamespace="sagemaker",
        ResourceId=resource_id,
        ScalableDimension=SCALABLE_DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": scaling.invocations_per_instance,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": scaling.scale_in_cooldown_s,
            "ScaleOutCooldown": scaling.scale_out_cooldown_s,
        },
    )  # fmt: skip
    ops.say(
        f"autoscaling {resource_id}: {scaling.min_capacity}-{scaling.max_capacity} instances, "
        f"target {scaling.invocations_per_instance:g} invocations per instance"
    )
    return policy_name


def features_only_csv(source: Path) -> bytes:
    """The baseline must have the columns the endpoint captures: the ten features, in order."""
    from churn_core.schema import FEATURE_NAMES

    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [n for n in FEATURE_NAMES if n not in (reader.fieldnames or [])]
        if missing:
            raise DeployError(f"{source} lacks the feature columns {', '.join(missing)}")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FEATURE_NAMES)
        writer.writerows([row[n] for n in FEATURE_NAMES] for row in reader)
    return out.getvalue().encode()


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


def model_of_endpoint(ops: AwsOps, endpoint_name: str) -> str:
    if ops.dry_run:
        return f"<model behind {endpoint_name}>"
    described = _endpoint(ops, endpoint_name)
    if described is None:
        raise DeployError(f"endpoint {endpoint_name} does not exist; pass --model-name")
    config = ops.call(
        "sagemaker", "describe_endpoint_config", EndpointConfigName=described["EndpointConfigName"]
    )
    return config["ProductionVariants"][0]["ModelName"]


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
    started = time.monotonic()
    while True:
        described = ops.call("sagemaker", "describe_transform_job", TransformJobName=job_name)
        state = described["TransformJobStatus"]
        elapsed = time.monotonic() - started
        ops.say(f"transform job {job_name}: {state} ({elapsed:.0f}s)")
        if state == "Completed":
            return state
        if state in ("Failed", "Stopped"):
            raise DeployError(f"{job_name} {state}: {described.get('FailureReason', '')}")
        if elapsed + poll_s > timeout_s:
            raise DeployError(f"{job_name} still {state} after {elapsed:.0f}s")
        ops.sleep(poll_s)
