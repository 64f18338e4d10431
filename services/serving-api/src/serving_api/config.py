"""Settings from SERVING_* environment variables (and CAPTURE_DIR, MODEL_DIR) and flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_DIR = Path("artifacts/model")
DEFAULT_CAPTURE_DIR = Path("artifacts/capture")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SERVING_",
        extra="ignore",
        populate_by_name=True,
        protected_namespaces=(),
    )

    model_dir: Path = Field(
        DEFAULT_MODEL_DIR, validation_alias=AliasChoices("SERVING_MODEL_DIR", "MODEL_DIR")
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # Open Inference Protocol V2 over gRPC on this port (needs the `grpc` extra); off when unset.
    grpc_port: int | None = Field(None, ge=0, le=65535)
    # Seconds a SIGTERM leaves in-flight gRPC calls to finish before they are cancelled.
    grpc_grace_seconds: float = Field(30.0, ge=0)
    # One process per pod is the supported shape; >1 switches Prometheus to multiprocess mode.
    workers: int = Field(1, ge=1, le=64)
    batch_limit: int = Field(1000, ge=1, le=100_000)
    # Explained requests and batches over 32 rows in worker threads at once (memory bound).
    max_concurrent_batches: int = Field(2, ge=1, le=64)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    # Slow and stalled clients (churn_core.http_protocol): a request head must arrive within
    # header_timeout_seconds and fit in max_header_bytes (else 408 / 431), its body within
    # body_timeout_seconds (else 408); an idle kept-alive connection is closed after
    # keep_alive_seconds. Behind a load balancer, keep-alive must outlast the balancer's own
    # idle timeout (the overlays set it), or it may reuse a connection the pod just closed.
    header_timeout_seconds: float = Field(10.0, gt=0)
    max_header_bytes: int = Field(64 * 1024, ge=1024)
    body_timeout_seconds: float = Field(30.0, gt=0)
    keep_alive_seconds: float = Field(5.0, gt=0)

    capture_enabled: bool = True
    capture_dir: Path = Field(
        DEFAULT_CAPTURE_DIR, validation_alias=AliasChoices("SERVING_CAPTURE_DIR", "CAPTURE_DIR")
    )
    capture_queue_size: int = Field(200_000, ge=1)
    capture_max_file_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    capture_max_file_seconds: float = Field(3600.0, gt=0)
    capture_fsync_seconds: float = Field(5.0, gt=0)

    api_key: SecretStr | None = None
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    access_log: bool = False
    # Answer POST /predict and /predict/batch straight from ASGI (see fastpath.py).
    fast_path: bool = True
    warmup_rounds: int = Field(5, ge=1, le=1000)

    @field_validator("api_key", "grpc_port", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
