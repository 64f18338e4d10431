"""sagemaker-handler: package, serve, deploy, test, status, traffic, delete, autoscale, monitor,
batch."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from sagemaker_handler.cli_parser import build_parser
from sagemaker_handler.config import Settings

if TYPE_CHECKING:
    from sagemaker_handler.deploy.client import AwsOps
    from sagemaker_handler.deploy.endpoint import EndpointSettings
    from sagemaker_handler.deploy.rollout import RolloutSettings

__all__ = ["build_parser", "main", "resolve_region"]


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
    from sagemaker_handler.server import Limits, serve

    chosen = {"max_connections": args.max_connections, "threads": args.threads}
    limits = Limits(**{name: value for name, value in chosen.items() if value is not None})
    return serve(args.model, args.host, args.port, limits)


def _run_aws(args: argparse.Namespace) -> int:
    from sagemaker_handler.deploy.client import AwsOps

    ops = AwsOps(
        region=resolve_region(args.region), endpoint_url=args.endpoint_url, dry_run=args.dry_run
    )
    commands = {
        "deploy": _deploy,
        "test": _test,
        "status": _status,
        "traffic": _traffic,
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
    deployed = deploy(
        ops, args.model, settings, candidate=args.candidate,
        candidate_percent=args.candidate_percent, rollout=_rollout(args),
    )  # fmt: skip
    print(json.dumps(deployed, indent=2))


def _rollout(args: argparse.Namespace) -> RolloutSettings:
    from sagemaker_handler.deploy.alarms import AlarmSettings
    from sagemaker_handler.deploy.rollout import RolloutSettings

    alarms = AlarmSettings(
        args.max_5xx, args.max_latency_ms, args.alarm_period, args.alarm_periods, args.alarm
    )
    return RolloutSettings(
        args.rollout, args.canary_percent, args.linear_step_percent, args.bake_seconds, alarms
    )


def _traffic(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.traffic import parse_weights, traffic

    traffic(ops, args.endpoint_name, parse_weights(args.weights), args.timeout)


def _test(ops: AwsOps, args: argparse.Namespace) -> None:
    from churn_core.samples import SAMPLE_CUSTOMERS
    from sagemaker_handler.deploy.invoke import invoke

    predictions = invoke(
        ops, args.endpoint_name, SAMPLE_CUSTOMERS, args.explain, args.content_type,
        args.target_variant,
    )  # fmt: skip
    for customer, prediction in zip(SAMPLE_CUSTOMERS, predictions, strict=False):
        print(
            f"{customer['Geography']:8} age {customer['Age']:3}: "
            f"p={prediction['churn_probability']:.4f} {prediction['risk_level']}"
        )


def _status(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.variants import status

    status(ops, args.endpoint_name)


def _delete(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.teardown import delete

    delete(ops, args.endpoint_name)


def _autoscale(ops: AwsOps, args: argparse.Namespace) -> None:
    from sagemaker_handler.deploy.autoscale import ScalingSettings, autoscale

    scaling = ScalingSettings(
        args.min_capacity, args.max_capacity, args.target,
        args.scale_in_cooldown, args.scale_out_cooldown,
    )  # fmt: skip
    autoscale(ops, args.endpoint_name, args.variant, scaling=scaling)


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
