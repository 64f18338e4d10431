"""The `vertex-predictor` command: `serve` the CPR locally or in the image; manage Vertex AI."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from churn_core.cli_help import show_defaults
from vertex_predictor import server
from vertex_predictor.config import Settings

DEPLOY_COMMANDS = (
    "upload",
    "deploy",
    "test",
    "status",
    "traffic",
    "undeploy",
    "monitor",
    "delete",
    "batch",
)


def _key_values(text: str) -> dict[str, str]:
    pairs = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _traffic_split(text: str) -> dict[str, int]:
    try:
        return {key: int(value) for key, value in _key_values(text).items()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ID=PERCENT,…, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from vertex_predictor import deploy

    parser = argparse.ArgumentParser(prog="vertex-predictor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the CPR model server (what the image runs)")
    serve.add_argument("--model-dir", help="bundle dir or gs:// URI (default: $AIP_STORAGE_URI)")
    serve.add_argument("--port", type=int, help="default: $AIP_HTTP_PORT, else 8080")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - container default
    serve.add_argument("--workers", type=int, help="default: $VERTEX_CPR_WEB_CONCURRENCY, else 1")

    config = Settings()  # read when the parser is built, as the environment is then
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project", default=config.project)
    common.add_argument("--region", default=config.region)
    common.add_argument(
        "--api-endpoint",
        default=config.api_endpoint,
        help="e.g. europe-west4-aiplatform.googleapis.com, or http://127.0.0.1:PORT for a fake",
    )
    common.add_argument(
        "--dry-run", action="store_true", help="print the SDK call and its arguments, make none"
    )

    upload = commands.add_parser("upload", parents=[common], help="bundle → GCS → Vertex Model")
    upload.add_argument("--model-dir", required=True, type=Path)
    upload.add_argument("--bucket", required=True, help="gs://bucket/prefix for the bundle")
    upload.add_argument("--image", required=True, help="serving container image URI")
    upload.add_argument("--display-name", default=deploy.DEFAULT_MODEL_NAME)
    upload.add_argument("--env", type=_key_values, default={}, help="K=V[,K=V] for the container")

    dep = commands.add_parser("deploy", parents=[common], help="deploy a Model to an Endpoint")
    dep.add_argument("--model", required=True, help="Model resource name, id or display name")
    dep.add_argument("--endpoint", default=deploy.DEFAULT_ENDPOINT_NAME)
    dep.add_argument("--machine-type", default=deploy.DEFAULT_MACHINE_TYPE)
    dep.add_argument("--min-replicas", type=int, default=1)
    dep.add_argument("--max-replicas", type=int, default=2)
    traffic = dep.add_mutually_exclusive_group()
    traffic.add_argument("--traffic-percentage", type=int, default=100)
    traffic.add_argument(
        "--traffic-split", type=_traffic_split, help='ID=PERCENT,…; "0" is the new model'
    )
    dep.add_argument("--request-response-logging", action="store_true")
    dep.add_argument("--logging-sampling-rate", type=float, default=0.1)
    dep.add_argument("--logging-bigquery-table", help="bq://project.dataset.table")
    dep.add_argument("--service-account")

    test = commands.add_parser("test", parents=[common], help="predict sample customers")
    test.add_argument("--endpoint", default=deploy.DEFAULT_ENDPOINT_NAME)
    test.add_argument("--explain", action="store_true")

    stat = commands.add_parser("status", parents=[common], help="endpoint, models, traffic")
    stat.add_argument("--endpoint", default=deploy.DEFAULT_ENDPOINT_NAME)

    shift = commands.add_parser("traffic", parents=[common], help="set the traffic split")
    shift.add_argument("--endpoint", default=deploy.DEFAULT_ENDPOINT_NAME)
    shift.add_argument(
        "--split", required=True, type=_traffic_split, help="DEPLOYED_MODEL_ID=PERCENT,…"
    )

    undeploy = commands.add_parser(
        "undeploy", parents=[common], help="move a model's traffic to the others, undeploy it"
    )
    undeploy.add_argument("--endpoint", default=deploy.DEFAULT_ENDPOINT_NAME)
    undeploy.add_argument("--deployed-model-id", required=True)

    _add_monitor(commands, common)

    delete = commands.add_parser("delete", parents=[common], help="undeploy and delete endpoint")
    delete.add_argument("--endpoint", default=deploy.DEFAULT_ENDPOINT_NAME)
    delete.add_argument("--delete-models", action="store_true")

    batch = commands.add_parser("batch", parents=[common], help="GCS JSON lines → predictions")
    batch.add_argument("--model", required=True)
    batch.add_argument("--source", required=True, action="append", help="gs://…jsonl (repeat)")
    batch.add_argument("--destination", required=True, help="gs:// prefix for the results")
    batch.add_argument("--machine-type", default=deploy.DEFAULT_MACHINE_TYPE)
    batch.add_argument("--starting-replicas", type=int, default=1)
    batch.add_argument("--max-replicas", type=int, default=4)
    batch.add_argument("--explain", action="store_true")
    batch.add_argument("--display-name", default="churn-batch")
    batch.add_argument("--wait", action="store_true", help="poll until the job finishes")
    batch.add_argument("--poll-seconds", type=float, default=30.0)
    return show_defaults(parser)


def _add_monitor(commands: Any, common: argparse.ArgumentParser) -> None:
    from vertex_predictor import deploy

    mon = commands.add_parser(
        "monitor", parents=[common], help="Model Monitoring job: skew and drift, e-mail alerts"
    )
    mon.add_argument("--endpoint", default=deploy.DEFAULT_ENDPOINT_NAME)
    action = mon.add_mutually_exclusive_group()
    action.add_argument("--status", action="store_true", help="show the endpoint's jobs")
    action.add_argument("--delete", action="store_true", help="pause and delete its jobs")
    mon.add_argument("--training-data", help="gs:// CSV of the training set (with Exited)")
    mon.add_argument("--email", action="append", default=[], help="alert address (repeat)")
    mon.add_argument(
        "--thresholds", type=_thresholds, default={},
        help="FEATURE=DISTANCE,… over the defaults derived from churn-core drift's",
    )  # fmt: skip
    mon.add_argument("--sampling-rate", type=float, default=0.8, help="share of requests logged")
    mon.add_argument("--interval-hours", type=int, default=1, help="how often the job runs")
    mon.add_argument("--log-ttl-days", type=int, default=30, help="BigQuery log retention")


def _thresholds(text: str) -> dict[str, float]:
    try:
        return {key: float(value) for key, value in _key_values(text).items()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FEATURE=NUMBER,…, got {text!r}") from None


def _monitor_call(args: argparse.Namespace) -> tuple[Callable[..., dict[str, Any]], dict[str, Any]]:
    from vertex_predictor.deploy import monitor

    if args.status:
        return monitor.monitor_status, {"endpoint_ref": args.endpoint}
    if args.delete:
        return monitor.delete_monitors, {"endpoint_ref": args.endpoint}
    if not args.training_data or not args.email:
        raise monitor.DeployError("creating a monitoring job needs --training-data and --email")
    return monitor.create_monitor, {
        "training_data": args.training_data,
        "emails": args.email,
        "endpoint_ref": args.endpoint,
        "thresholds": args.thresholds,
        "sampling_rate": args.sampling_rate,
        "interval_hours": args.interval_hours,
        "log_ttl_days": args.log_ttl_days,
    }


def _deploy_call(args: argparse.Namespace) -> tuple[Callable[..., dict[str, Any]], dict[str, Any]]:
    """The deploy-module function a command runs, with its keyword arguments."""
    from vertex_predictor import deploy

    calls: dict[str, Callable[[], tuple[Callable[..., dict[str, Any]], dict[str, Any]]]] = {
        # lambdas: each command's namespace has only its own arguments
        "upload": lambda: (
            deploy.upload_model,
            {
                "model_dir": args.model_dir,
                "gcs_prefix": args.bucket,
                "image_uri": args.image,
                "display_name": args.display_name,
                "env": args.env,
            },
        ),
        "deploy": lambda: (
            deploy.deploy_model,
            {
                "model_ref": args.model,
                "endpoint_ref": args.endpoint,
                "machine_type": args.machine_type,
                "min_replicas": args.min_replicas,
                "max_replicas": args.max_replicas,
                "traffic_percentage": args.traffic_percentage,
                "traffic_split": args.traffic_split,
                "request_response_logging": args.request_response_logging,
                "logging_sampling_rate": args.logging_sampling_rate,
                "logging_bigquery_table": args.logging_bigquery_table,
                "service_account": args.service_account,
            },
        ),
        "test": lambda: (
            deploy.test_endpoint,
            {"endpoint_ref": args.endpoint, "explain": args.explain},
        ),
        "status": lambda: (deploy.status, {"endpoint_ref": args.endpoint}),
        "traffic": lambda: (
            deploy.set_traffic,
            {"split": args.split, "endpoint_ref": args.endpoint},
        ),
        "monitor": lambda: _monitor_call(args),
        "undeploy": lambda: (
            deploy.undeploy,
            {"deployed_model_id": args.deployed_model_id, "endpoint_ref": args.endpoint},
        ),
        "delete": lambda: (
            deploy.delete,
            {"endpoint_ref": args.endpoint, "delete_models": args.delete_models},
        ),
        "batch": lambda: (
            deploy.batch_predict,
            {
                "model_ref": args.model,
                "sources": args.source,
                "destination": args.destination,
                "machine_type": args.machine_type,
                "starting_replicas": args.starting_replicas,
                "max_replicas": args.max_replicas,
                "explain": args.explain,
                "display_name": args.display_name,
                "wait": args.wait,
                "poll_seconds": args.poll_seconds,
            },
        ),
    }
    return calls[args.command]()


def _run_deploy_command(args: argparse.Namespace) -> dict[str, Any]:
    from vertex_predictor import deploy

    function, kwargs = _deploy_call(args)
    target = deploy.VertexTarget(args.project, args.region, args.api_endpoint)
    if args.dry_run:
        shown = json.dumps({"target": vars(target), **kwargs}, indent=2, default=str)
        print(f"[dry-run] deploy.{function.__name__}({shown})")
        return {"dry_run": True}
    deploy.init_sdk(target)
    return function(**kwargs)


def _unreachable(args: argparse.Namespace, error: Exception) -> str:
    """One line for a Vertex API that cannot be reached or authenticated against."""
    where = args.api_endpoint or f"{args.region}-aiplatform.googleapis.com"
    first = str(error).splitlines()[0][:200] if str(error) else ""
    return f"cannot reach the Vertex API at {where} ({type(error).__name__}: {first})"


def main(argv: Sequence[str] | None = None) -> int:
    # Before the SDK is imported: its loggers then log to stderr, leaving stdout to the result.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        try:
            server.serve(args.model_dir, args.port, host=args.host, workers=args.workers)
        except ValueError as error:
            parser.error(str(error))
        return 0
    if not args.project:
        parser.error("--project is required (or set GOOGLE_CLOUD_PROJECT)")
    from google.api_core.exceptions import GoogleAPICallError, RetryError
    from google.auth.exceptions import GoogleAuthError
    from requests.exceptions import ConnectionError as RequestsConnectionError

    from churn_core import BundleError
    from vertex_predictor.deploy import DeployError
    from vertex_predictor.storage import StorageError

    try:
        result = _run_deploy_command(args)
    except (DeployError, StorageError, BundleError, GoogleAPICallError) as error:
        print(f"vertex-predictor {args.command}: {error}", file=sys.stderr)
        return 1
    except (GoogleAuthError, RetryError, RequestsConnectionError, OSError) as error:
        print(f"vertex-predictor {args.command}: {_unreachable(args, error)}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
