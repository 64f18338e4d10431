"""The argparse parser of `sagemaker-handler`: every command and its options.

Kept apart from cli.py (which runs the commands) and free of boto3 imports, so `serve` and
`--help` stay fast."""

from __future__ import annotations

import argparse
from pathlib import Path

from churn_core.cli_help import show_defaults
from sagemaker_handler.config import Settings

# Literals, not monitor.HOURLY / batch.FORMATS / rollout.ROLLOUTS: `serve` should not pay
# for importing boto3.
HOURLY = "cron(0 * ? * * *)"
BATCH_FORMATS = ("csv", "jsonl")
ROLLOUTS = ("all-at-once", "canary", "linear")


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


def build_parser(env: Settings | None = None) -> argparse.ArgumentParser:
    env = env or Settings()
    parser = argparse.ArgumentParser(
        prog="sagemaker-handler",
        description="package, serve, deploy, test, status, traffic, delete, autoscale, "
        "monitor, batch",
    )
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
    p.add_argument(
        "--max-connections", type=int, default=None,
        help="open connections and requests in progress; above it, 503 at once (default 128)",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=int, default=None,
        help="threads running input_fn/predict_fn/output_fn (default: cores, at most 8)",
    )  # fmt: skip

    p = sub.add_parser("deploy", parents=[aws_opts, endpoint_opts], help="upload and deploy")
    p.add_argument("--model", required=True, type=Path, help="model.tar.gz from `package`")
    p.add_argument("--instance-type", default="ml.m5.large")
    p.add_argument("--instance-count", type=int, default=1)
    p.add_argument("--image-uri", help="a BYOC image instead of the scikit-learn framework image")
    p.add_argument("--capture-percent", type=int, default=100)
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for InService")
    p.add_argument("--poll", type=float, default=15.0)
    p.add_argument("--no-wait", action="store_true")
    _add_ab_and_rollout(p)

    p = sub.add_parser("test", parents=[aws_opts], help="invoke the endpoint with samples")
    p.add_argument("--explain", action="store_true")
    p.add_argument(
        "--content-type", default="application/json", choices=["application/json", "text/csv"]
    )
    p.add_argument("--target-variant", help="send every request to this production variant")

    sub.add_parser("status", parents=[aws_opts], help="endpoint and variant state")
    sub.add_parser(
        "delete", parents=[aws_opts],
        help="remove monitoring schedules, guard alarms, autoscaling, endpoint, configs, models",
    )  # fmt: skip

    p = sub.add_parser("traffic", parents=[aws_opts], help="set the variants' traffic weights")
    p.add_argument(
        "--endpoint", dest="endpoint_name", default=argparse.SUPPRESS, help="= --endpoint-name"
    )
    p.add_argument("--weights", required=True, help="VARIANT=PERCENT,… adding up to 100")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for InService")

    p = sub.add_parser("autoscale", parents=[aws_opts], help="target-tracking autoscaling")
    p.add_argument("--min", type=int, default=1, dest="min_capacity")
    p.add_argument("--max", type=int, default=5, dest="max_capacity")
    p.add_argument("--target", type=float, default=100.0, help="invocations per instance")
    p.add_argument("--scale-in-cooldown", type=int, default=300)
    p.add_argument("--scale-out-cooldown", type=int, default=60)
    p.add_argument("--variant", default="AllTraffic", help="the production variant to scale")

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


def _add_ab_and_rollout(p: argparse.ArgumentParser) -> None:
    ab = p.add_argument_group("A/B variants")
    ab.add_argument("--candidate", type=Path, help="a second model.tar.gz: variants A and B")
    ab.add_argument("--candidate-percent", type=int, default=10, help="variant B's traffic")
    ro = p.add_argument_group("rollout of an update (blue/green, alarms roll back)")
    ro.add_argument("--rollout", choices=ROLLOUTS, default="all-at-once")
    ro.add_argument("--canary-percent", type=int, default=10, help="capacity of the canary step")
    ro.add_argument("--linear-step-percent", type=int, default=20, help="capacity per step")
    ro.add_argument("--bake-seconds", type=int, default=600, help="wait after each step")
    ro.add_argument("--max-5xx", type=float, default=0.0, help="5xx answers per period allowed")
    ro.add_argument("--max-latency-ms", type=float, default=500.0, help="average ModelLatency")
    ro.add_argument("--alarm-period", type=int, default=60, help="seconds per alarm period")
    ro.add_argument("--alarm-periods", type=int, default=2, help="periods over the limit to fire")
    ro.add_argument(
        "--alarm", action="append", default=[], metavar="NAME",
        help="guard with this existing CloudWatch alarm instead of creating ones (repeatable)",
    )  # fmt: skip
