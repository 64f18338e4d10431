"""sagemaker-handler: package, serve, deploy, test, status, delete, autoscale, monitor, batch."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from churn_core.cli_help import show_defaults
from sagemaker_handler.config import Settings

if TYPE_CHECKING:
    from sagemaker_handler.deploy.client import AwsOps
    from sagemaker_handler.deploy.endpoint import EndpointSettings

# Literals, not monitor.HOURLY / batch.FORMATS: `serve` should not pay for importing boto3.
HOURLY = "cron(0 * ? * * *)"
BATCH_FORMATS = ("csv", "jsonl")


def _aws_parent(env: Settings) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--region",
        default=env.region,
        help="AWS region; default: $AWS_REGION, $AWS_DEFAULT_REGION, else the profile's",
    )
    parent.add_argument(
        "--endpoint-url",
        default=env.endpoint_url,
        help="send every AWS call here (a moto server in tests); default $AWS_ENDPOINT_URL",
    )
    parent.add_argument("--dry-run", action="store_true", help="print the API calls, make none")
    parent.add_argument("--endpoint-name", default="churn-endpoint")
    return parent


def _endpoint_parent(env: Settings) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--role-arn", default=env.role_arn)
    parent.add_argument("--bucket", default=env.bucket)
    parent.add_argument("--prefix", default="churn/sagemaker")
    parent.add_argument("--kms-key-id", default=None, help="KMS key for volumes, capture, S3")
    return parent


def resolve_region(explicit: str | None) -> str:
    """``--region``, else AWS_REGION or AWS_DEFAULT_REGION (the Settings), else boto3's own
    chain: the profile's configuration. Never a silent default region."""
    import boto3

    region = explicit or Settings().region or boto3.Session().region_name
    if not region:
        raise SystemExit(
            "error: no AWS region: pass --region, set AWS_REGION, or give the profile a region"
        )
    return region


def build_parser(env: Settings | None = None) -> argparse.ArgumentParser:
    env = env or Settings()
    parser = argparse.ArgumentParser(prog="sagemaker-handler", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    aws_opts, endpoint_opts = _aws_parent(env), _endpoint_parent(env)

    p = sub.add_parser("package", help="build model.tar.gz for the scikit-learn container")
    p.add_argument("--model-dir", required=True, type=Path)
    p.add_argument("--out", default=Path("model.tar.gz"), type=Path)
    p.add_argument("--wheel", type=Path, help="a prebuilt churn-core wheel (default: uv build)")

    p = sub.add_parser("serve", help="run the SageMaker container contract (the BYOC entrypoint)")
    p.add_argument("--model", default=env.model_dir, help="model.tar.gz or an extracted model dir")
    p.add_argument("--host", default="0.0.0.0")  # noqa: S104 - the container's published port
    p.add_argument(
        "--port", type=int, default=env.port, help="default $SAGEMAKER_BIND_TO_PORT or 8080"
    )

    p = sub.add_parser("deploy", parents=[aws_opts, endpoint_opts], help="upload and deploy")
    p.add_argument("--model", required=True, type=Path, help="model.tar.gz from `package`")
    p.add_argument("--instance-type", default="ml.m5.large")
    p.add_argument("--instance-count", type=int, default=1)
    p.add_argument("--image-uri", help="a BYOC image instead of the scikit-learn framework image")
    p.add_argument("--capture-percent", type=int, default=100)
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for InService")
    p.add_argument("--poll", type=float, default=15.0)
    p.add_argument("--no-wait", action="store_true")

    p = sub.add_parser("test", parents=[aws_opts], help="invoke the endpoint with samples")
    p.add_argument("--explain", action="store_true")
    p.add_argument(
        "--content-type", default="application/json", choices=["application/json", "text/csv"]
    )

    sub.add_parser("status", parents=[aws_opts], help="endpoint and variant state")
    sub.add_parser("delete", parents=[aws_opts], help="remove endpoint, configs, models")

    p = sub.add_parser("autoscale", parents=[aws_opts], help="target-tracking autoscaling")
    p.add_argument("--min", type=int, default=1, dest="min_capacity")
    p.add_argument("--max", type=int, default=5, dest="max_capacity")
    p.add_argument("--target", type=float, default=100.0, help="invocations per instance")
    p.add_argument("--scale-in-cooldown", type=int, default=300)
    p.add_argument("--scale-out-cooldown", type=int, default=60)

    p = sub.add_parser("monitor", parents=[aws_opts, endpoint_opts], help="data-quality monitor")
    p.add_argument("--baseline-data", required=True, help="training CSV (local or s3://)")
    p.add_argument("--instance-type", default="ml.m5.xlarge")
    p.add_argument("--schedule", default=HOURLY)

    p = sub.add_parser("batch", parents=[aws_opts, endpoint_opts], help="Batch Transform job")
    p.add_argument("--input", required=True, help="s3:// prefix, or a local file to upload")
    p.add_argument("--output", help="s3:// prefix (default under --bucket/--prefix)")
    p.add_argument("--format", choices=BATCH_FORMATS, default="csv")
    p.add_argument("--model-name", help="default: the model behind --endpoint-name")
    p.add_argument("--instance-type", default="ml.m5.xlarge")
    p.add_argument("--instance-count", type=int, default=1)
    p.add_argument("--wait", action="store_true")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--poll", type=float, default=30.0)
    return show_defaults(parser)


def _require(args: argparse.Namespace, *names: str) -> None:
    missing = [n for n in names if not getattr(args, n)]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise SystemExit(
            f"error: {args.command} needs {flags} (or the matching environment variable)"
        )


def _endpoint_settings(args: argparse.Namespace) -> EndpointSettings:
    from sagemaker_handler.deploy.endpoint import EndpointSettings

    _require(args, "role_arn", "bucket")
    return EndpointSettings(
        endpoint_name=args.endpoint_name,
        role_arn=args.role_arn,
        bucket=args.bucket,
        prefix=args.prefix,
        kms_key_id=args.kms_key_id,
    )


def _package(args: argparse.Namespace) -> int:
    from sagemaker_handler.packaging import package_model

    result = package_model(args.model_dir, args.out, wheel=args.wheel)
    print(
        f"{result.path}: {result.size_bytes / 1024:.0f} KiB, model {result.model_version}, "
        f"{result.wheel}; requirements: {', '.join(result.requirements)}"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from sagemaker_handler.server import serve

    return serve(args.model, args.host, args.port)


def _run_aws(args: argparse.Namespace) -> int:
    from sagemaker_handler.deploy.client import AwsOps

    ops = AwsOps(
        region=resolve_region(args.region), endpoint_url=args.endpoint_url, dry_run=args.dry_run
    )
    commands = {
        "deploy": _deploy,
        "test": _test,
        "status": _status,
        "delete": _delete,
        "autoscale": _autoscale,
        "monitor": _monitor,
        "batch": _batch,
    }
    commands[args.command](ops, args)
    return 0


def _deploy(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.endpoint import deploy

    settings = _endpoint_settings(args)
    settings.instance_type, settings.instance_count = args.instance_type, args.instance_count
    settings.image_uri, settings.capture_percent = args.image_uri, args.capture_percent
    settings.timeout_s, settings.poll_s = args.timeout, args.poll
    settings.wait = not args.no_wait
    print(json.dumps(deploy(ops, args.model, settings), indent=2))


def _test(ops: AwsOps, args: argparse.Namespace) -> None:
    from churn_core.samples import SAMPLE_CUSTOMERS
    from sagemaker_handler.deploy.invoke import invoke

    predictions = invoke(ops, args.endpoint_name, SAMPLE_CUSTOMERS, args.explain, args.content_type)
    for customer, prediction in zip(SAMPLE_CUSTOMERS, predictions, strict=False):
        print(
            f"{customer['Geography']:8} age {customer['Age']:3}: "
            f"p={prediction['churn_probability']:.4f} {prediction['risk_level']}"
        )


def _status(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.endpoint import status

    status(ops, args.endpoint_name)


def _delete(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.endpoint import delete

    delete(ops, args.endpoint_name)


def _autoscale(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.autoscale import ScalingSettings, autoscale

    scaling = ScalingSettings(
        args.min_capacity, args.max_capacity, args.target,
        args.scale_in_cooldown, args.scale_out_cooldown,
    )  # fmt: skip
    autoscale(ops, args.endpoint_name, scaling=scaling)


def _monitor(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.monitor import monitor

    settings = _endpoint_settings(args)
    monitor(ops, settings, args.baseline_data, args.instance_type, args.schedule)


def _batch(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.batch import BatchSettings, batch, wait_for_transform
    from sagemaker_handler.deploy.client import stamp, upload
    from sagemaker_handler.deploy.endpoint import model_of_endpoint

    settings = _endpoint_settings(args)
    suffix = stamp()
    input_uri = args.input
    if not input_uri.startswith("s3://"):
        source = Path(input_uri)
        key = f"{settings.prefix.strip('/')}/batch/input/{suffix}/{source.name}"
        input_uri = upload(ops, source, settings.bucket, key, settings.kms_key_id)
    model_name = args.model_name or model_of_endpoint(ops, args.endpoint_name)
    job = batch(
        ops,
        BatchSettings(
            model_name=model_name,
            input_uri=input_uri,
            output_uri=args.output or settings.s3_uri("batch", "output", suffix),
            data_format=args.format,
            instance_type=args.instance_type,
            instance_count=args.instance_count,
            kms_key_id=settings.kms_key_id,
        ),
    )
    if args.wait and not ops.dry_run:
        wait_for_transform(ops, job, args.timeout, args.poll)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        env = Settings()
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        print(f"error: invalid setting in the environment: {fields}", file=sys.stderr)
        return 2
    args = build_parser(env).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("botocore", "boto3", "urllib3", "sagemaker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command == "package":
        try:
            return _package(args)
        except (ValueError, RuntimeError, OSError) as exc:  # BundleError is a ValueError
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.command == "serve":
        return _serve(args)
    from botocore.exceptions import BotoCoreError, ClientError

    from sagemaker_handler.deploy.client import DeployError

    try:
        return _run_aws(args)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
