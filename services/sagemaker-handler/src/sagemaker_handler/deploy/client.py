"""The boto3 wrapper every deploy module calls through, and what they all share: resource
names, S3 uploads, "not found" handling and the one polling loop."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError

# The one production variant a deploy creates; autoscaling and delete address it by name.
VARIANT = "AllTraffic"


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


def not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    message = str(error.get("Message", ""))
    code = str(error.get("Code", ""))
    # Real AWS says ObjectNotFoundException for a missing scalable target; moto a
    # ValidationException "No scalable target found". SageMaker says "Could not find ...".
    return code in ("ObjectNotFoundException", "ResourceNotFound", "NoSuchEntity") or (
        code == "ValidationException"
        and any(s in message for s in ("Could not find", "not found", "No scalable target"))
    )


def call_or_none(ops: AwsOps, service: str, operation: str, **params: Any) -> Any:
    """The call's answer, or None when what it names does not exist."""
    try:
        return ops.call(service, operation, **params)
    except ClientError as exc:
        if not_found(exc):
            return None
        raise


def stamp() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime())


def resource_name(base: str, suffix: str) -> str:
    """SageMaker names: alphanumerics and hyphens, at most 63 characters."""
    base = re.sub(r"[^A-Za-z0-9-]+", "-", base).strip("-")
    return f"{base[: 62 - len(suffix)]}-{suffix}"


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


def poll(
    ops: AwsOps,
    label: str,
    describe: Callable[[], dict[str, Any]],
    status_key: str,
    done: str,
    failed: tuple[str, ...],
    timeout_s: float,
    poll_s: float,
) -> str:
    """Describe until ``status_key`` is ``done``; fail on a ``failed`` state or after
    ``timeout_s``. Each change of state is printed once, with the time since the start."""
    started, last = time.monotonic(), None
    while True:
        described = describe()
        status = described[status_key]
        elapsed = time.monotonic() - started
        if status != last:
            ops.say(f"{label}: {status} ({elapsed:.0f}s)")
            last = status
        if status == done:
            return status
        if status in failed:
            reason = described.get("FailureReason") or "no reason given"
            raise DeployError(f"{label} is {status}: {reason}")
        if elapsed + poll_s > timeout_s:
            raise DeployError(f"{label} still {status} after {elapsed:.0f}s")
        ops.sleep(poll_s)
