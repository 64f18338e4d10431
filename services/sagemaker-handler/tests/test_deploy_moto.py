"""Deploy tooling against a real moto server on loopback: every call goes over HTTP through boto3.

Parameters are checked twice: as sent (botocore's provide-client-params event) and as stored
(read back with describe_* from moto). moto 5 lacks UpdateEndpoint and the monitoring-schedule
calls (Create/List/DeleteMonitoringSchedule): the Recorder answers and records them here, and
test_deploy_stubber.py checks CreateMonitoringSchedule with botocore's Stubber.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sagemaker_handler import cli
from sagemaker_handler.deploy.batch import BatchSettings, batch
from sagemaker_handler.deploy.client import AwsOps
from sagemaker_handler.deploy.endpoint import EndpointSettings, deploy
from sagemaker_handler.deploy.teardown import delete

from .moto_helpers import BUCKET, REGION, SKLEARN_IMAGE, Recorder, recorded_cli, run

pytestmark = pytest.mark.usefixtures("fake_credentials")


def test_deploy_status_autoscale_delete_round_trip(
    moto_url: str, aws: dict[str, Any], tarball: Path, capsys, monkeypatch
):
    endpoint = "churn-roundtrip"
    common = ["--endpoint-url", moto_url, "--region", REGION, "--endpoint-name", endpoint]
    code, out = run(
        ["deploy", *common, "--model", str(tarball), "--role-arn", aws["role_arn"],
         "--bucket", BUCKET, "--instance-type", "ml.c5.large", "--poll", "0.1"],
        capsys,
    )  # fmt: skip
    assert code == 0, out
    assert f"endpoint {endpoint}: InService" in out

    sm = aws["sagemaker"]
    described = sm.describe_endpoint(EndpointName=endpoint)
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    (variant,) = config["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["InstanceType"] == "ml.c5.large"
    assert variant["InitialInstanceCount"] == 1
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 100
    assert capture["DestinationS3Uri"] == f"s3://{BUCKET}/churn/sagemaker/capture"
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    model = sm.describe_model(ModelName=variant["ModelName"])
    container = model["PrimaryContainer"]
    assert container["Image"] == SKLEARN_IMAGE  # resolved by sagemaker.image_uris, offline
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert model["ExecutionRoleArn"] == aws["role_arn"]
    # the uploaded object is the tarball, byte for byte
    bucket, key = container["ModelDataUrl"].removeprefix("s3://").split("/", 1)
    assert bucket == BUCKET
    assert aws["s3"].get_object(Bucket=bucket, Key=key)["Body"].read() == tarball.read_bytes()

    # status: AWS_ENDPOINT_URL alone is enough
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    code, out = run(["status", "--endpoint-name", endpoint], capsys)
    assert code == 0
    assert f"endpoint {endpoint}: InService" in out
    version = sm.list_tags(ResourceArn=model["ModelArn"])["Tags"]
    assert (
        f"variant AllTraffic: weight 100 (100%), 1/1 instances, model {variant['ModelName']}, "
        f"model_version {dict((t['Key'], t['Value']) for t in version)['churn:model-version']}"
    ) in out

    code, out = run(["autoscale", "--endpoint-name", endpoint], capsys)
    assert code == 0
    scaling = aws["application-autoscaling"]
    (target,) = scaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{endpoint}/variant/AllTraffic"]
    )["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 5)
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    (policy,) = scaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=f"endpoint/{endpoint}/variant/AllTraffic"
    )["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 100.0
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (300, 60)

    # moto 5 has no ListMonitoringSchedules / DeleteMonitoringSchedule: the recorder answers
    # them (one schedule to remove), everything else goes to moto.
    recorder = recorded_cli(monkeypatch)
    schedule = {"MonitoringScheduleName": f"{endpoint}-data-quality"}
    recorder.answer("ListMonitoringSchedules", {"MonitoringScheduleSummaries": [schedule]})
    recorder.answer("DeleteMonitoringSchedule", {})
    code, out = run(["delete", "--endpoint-name", endpoint], capsys)
    assert code == 0
    assert recorder.only("ListMonitoringSchedules") == {"EndpointName": endpoint}
    assert recorder.only("DeleteMonitoringSchedule") == schedule
    assert f"delete_monitoring_schedule: {endpoint}-data-quality" in out
    assert f"deregister_scalable_target: endpoint/{endpoint}/variant/AllTraffic" in out
    ops = recorder.operations()
    assert ops.index("DeleteMonitoringSchedule") < ops.index("DeleteEndpoint")
    for call, params in [
        (sm.describe_endpoint, {"EndpointName": endpoint}),
        (sm.describe_endpoint_config, {"EndpointConfigName": described["EndpointConfigName"]}),
        (sm.describe_model, {"ModelName": variant["ModelName"]}),
    ]:
        with pytest.raises(ClientError):
            call(**params)
    assert not scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]

    recorder.answer("ListMonitoringSchedules", {"MonitoringScheduleSummaries": []})
    code, out = run(["delete", "--endpoint-name", endpoint], capsys)  # idempotent
    assert code == 0
    assert "nothing to delete" in out


def test_exact_parameters_sent_with_kms_and_redeploy(
    moto_url: str, aws: dict[str, Any], tarball: Path, bundle_dir: Path
):
    recorder = Recorder()
    recorder.answer("UpdateEndpoint", {"EndpointArn": "arn:aws:sagemaker:::endpoint/churn-kms"})
    recorder.answer("ListMonitoringSchedules", {"MonitoringScheduleSummaries": []})  # moto lacks
    ops = AwsOps(
        REGION, moto_url, session=recorder.session, out=io.StringIO(), sleep=lambda s: None
    )
    kms = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    settings = EndpointSettings(
        "churn-kms", aws["role_arn"], BUCKET, kms_key_id=kms, capture_percent=20, poll_s=0.01
    )
    first = deploy(ops, tarball, settings)
    put = recorder.only("PutObject")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", kms)
    config = recorder.only("CreateEndpointConfig")
    assert config["KmsKeyId"] == kms
    assert config["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "DestinationS3Uri": f"s3://{BUCKET}/churn/sagemaker/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "JsonContentTypes": ["application/json", "application/jsonlines"],
            "CsvContentTypes": ["text/csv"],
        },
        "KmsKeyId": kms,
    }
    tags = {t["Key"]: t["Value"] for t in recorder.only("CreateModel")["Tags"]}
    from churn_core import Predictor

    assert tags == {
        "churn:endpoint": "churn-kms",
        "churn:model-version": Predictor.from_bundle(bundle_dir).model_version,
    }
    assert recorder.operations() == [
        "PutObject", "CreateModel", "CreateEndpointConfig", "DescribeEndpoint",
        "CreateEndpoint", "DescribeEndpoint",
    ]  # fmt: skip

    # A second deploy to the same endpoint is an update to a new config (blue/green). moto 5
    # has no UpdateEndpoint: a before-call hook answers that one call and records it.
    recorder.calls.clear()
    import time

    time.sleep(1.1)  # names carry a one-second timestamp
    settings.wait = False  # moto's endpoint stays on the old config (see test_release_moto)
    second = deploy(ops, tarball, settings)
    assert "UpdateEndpoint" in recorder.operations()
    assert "CreateEndpoint" not in recorder.operations()
    assert recorder.only("UpdateEndpoint") == {
        "EndpointName": "churn-kms", "EndpointConfigName": second["endpoint_config"],
    }  # fmt: skip
    # delete removes both generations of configs and models
    removed = delete(ops, "churn-kms")
    for name in (first["model"], second["model"]):
        assert f"model {name}" in removed
        assert f"endpoint_config {name}" in removed


def test_batch_transform_job_parameters(moto_url: str, aws: dict[str, Any], capsys, tmp_path):
    aws["sagemaker"].create_model(
        ModelName="churn-batch-model",
        ExecutionRoleArn=aws["role_arn"],
        PrimaryContainer={"Image": SKLEARN_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/m.tar.gz"},
    )
    source = tmp_path / "customers.jsonl"
    source.write_text('{"CreditScore": 650}\n')
    code, out = run(
        ["batch", "--endpoint-url", moto_url, "--model-name", "churn-batch-model",
         "--role-arn", aws["role_arn"], "--bucket", BUCKET, "--input", str(source),
         "--format", "jsonl", "--instance-count", "2", "--wait", "--poll", "0.01"],
        capsys,
    )  # fmt: skip
    assert code == 0, out
    job_name = out.split("transform job ")[1].split(":")[0]
    job = aws["sagemaker"].describe_transform_job(TransformJobName=job_name)
    assert job["ModelName"] == "churn-batch-model"
    assert job["BatchStrategy"] == "MultiRecord"
    assert job["MaxPayloadInMB"] == 6
    data_input = job["TransformInput"]
    assert data_input["ContentType"] == "application/jsonlines"
    assert data_input["SplitType"] == "Line"
    uri = data_input["DataSource"]["S3DataSource"]["S3Uri"]
    assert uri.startswith(f"s3://{BUCKET}/churn/sagemaker/batch/input/")
    key = uri.removeprefix(f"s3://{BUCKET}/")
    assert aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read() == source.read_bytes()
    assert job["TransformOutput"]["Accept"] == "application/jsonlines"
    assert job["TransformOutput"]["AssembleWith"] == "Line"
    assert job["TransformResources"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2}
    assert "Completed" in out


def test_batch_csv_uses_the_endpoint_model(moto_url: str, aws: dict[str, Any], tarball: Path):
    ops = AwsOps(REGION, moto_url, out=io.StringIO(), sleep=lambda s: None)
    settings = EndpointSettings("churn-batch-ep", aws["role_arn"], BUCKET, poll_s=0.01)
    deployed = deploy(ops, tarball, settings)
    from sagemaker_handler.deploy.endpoint import model_of_endpoint

    model = model_of_endpoint(ops, "churn-batch-ep")
    assert model == deployed["model"]
    job = batch(ops, BatchSettings(model, f"s3://{BUCKET}/in/", f"s3://{BUCKET}/out/"))
    described = aws["sagemaker"].describe_transform_job(TransformJobName=job)
    assert described["TransformInput"]["ContentType"] == "text/csv"
    assert described["TransformInput"]["SplitType"] == "Line"
    assert described["TransformOutput"]["Accept"] == "text/csv"


def test_monitor_baseline_job_and_definition_on_moto(
    moto_url: str, aws: dict[str, Any], tmp_path: Path, bundle_dir: Path
):
    """Baseline job and job definition go to moto; the schedule call moto cannot serve is
    answered by a before-call hook that records it (the Stubber test checks it fully)."""
    recorder = Recorder()
    recorder.answer("CreateMonitoringSchedule", {"MonitoringScheduleArn": "arn:schedule"})
    listed = {"MonitoringScheduleName": "churn-monitored-data-quality"}
    recorder.answer("ListMonitoringSchedules", {"MonitoringScheduleSummaries": [listed]})
    recorder.answer("DeleteMonitoringSchedule", {})
    ops = AwsOps(REGION, moto_url, session=recorder.session, out=io.StringIO())
    from sagemaker_handler.deploy.monitor import monitor

    settings = EndpointSettings("churn-monitored", aws["role_arn"], BUCKET)
    names = monitor(ops, settings, str(bundle_dir / "reference.csv"))
    sm = aws["sagemaker"]
    job = sm.describe_processing_job(ProcessingJobName=names["baseline_job"])
    assert job["AppSpecification"]["ImageUri"].endswith("sagemaker-model-monitor-analyzer")
    # moto does not store Environment: check it as sent
    assert recorder.only("CreateProcessingJob")["Environment"] == {
        "dataset_format": '{"csv": {"header": true}}',
        "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
        "output_path": "/opt/ml/processing/output",
        "publish_cloudwatch_metrics": "Disabled",
    }
    (source,) = job["ProcessingInputs"]
    key = source["S3Input"]["S3Uri"].removeprefix(f"s3://{BUCKET}/")
    uploaded = aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    header = uploaded.splitlines()[0].split(",")
    from churn_core.schema import FEATURE_NAMES

    assert header == list(FEATURE_NAMES)
    definition = sm.describe_data_quality_job_definition(JobDefinitionName=names["job_definition"])
    assert definition["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == "churn-monitored"
    results = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert definition["DataQualityBaselineConfig"]["ConstraintsResource"] == {
        "S3Uri": f"{results}/constraints.json"
    }
    schedule = recorder.only("CreateMonitoringSchedule")
    assert schedule["MonitoringScheduleConfig"]["ScheduleConfig"] == {
        "ScheduleExpression": "cron(0 * ? * * *)"
    }
    assert (
        schedule["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"]
        == (names["job_definition"])
    )

    # delete: the schedule (recorded: moto lacks it), then the job definition (moto's own)
    removed = delete(ops, "churn-monitored")
    assert removed[:2] == [
        "monitoring_schedule churn-monitored-data-quality",
        f"data_quality_job_definition {names['job_definition']}",
    ]
    assert recorder.only("DeleteMonitoringSchedule") == listed
    with pytest.raises(ClientError):
        sm.describe_data_quality_job_definition(JobDefinitionName=names["job_definition"])


def test_dry_run_prints_calls_and_makes_none(tarball: Path, capsys, monkeypatch):
    # Nothing listens on this port: any real call would fail the command.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    code, out = run(
        ["deploy", "--dry-run", "--model", str(tarball), "--role-arn",
         "arn:aws:iam::123456789012:role/churn", "--bucket", BUCKET],
        capsys,
    )  # fmt: skip
    assert code == 0
    for call in ("s3.put_object", "sagemaker.create_model", "sagemaker.create_endpoint_config",
                 "sagemaker.create_endpoint"):  # fmt: skip
        assert f"[dry-run] {call}(" in out
    assert "bytes>" in out  # the body is summarised, not dumped
    batch = ["batch", "--input", f"s3://{BUCKET}/in/", "--output", f"s3://{BUCKET}/out/",
             "--role-arn", "arn:aws:iam::123456789012:role/churn", "--bucket", BUCKET]  # fmt: skip
    for argv in (["delete"], ["autoscale"], ["test"], ["status"], batch):
        code, out = run([*argv, "--dry-run"], capsys)
        assert code == 0
        assert "[dry-run]" in out


def test_missing_endpoint_is_a_clear_error(moto_url: str, capsys):
    code = cli.main(["status", "--endpoint-url", moto_url, "--endpoint-name", "nope"])
    captured = capsys.readouterr()
    assert code == 1
    assert "endpoint nope does not exist" in captured.err
