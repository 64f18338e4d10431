"""Settings of the predictor and the CLI from environment variables, read once.

Vertex's own AIP_* variables are CprModelServer's to read; ``server.server_environment`` only
fills them in. Everything else the package reads from the environment is here.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAX_INSTANCES = 1000
DEFAULT_MAX_BODY_BYTES = 1_572_864  # 1.5 MiB


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # Instances per prediction request; more is a 400 naming `instances`.
    max_instances: int = Field(DEFAULT_MAX_INSTANCES, ge=1, alias="CHURN_MAX_INSTANCES")
    # Bytes per request body; more is a 413 before the body is read whole. Vertex itself
    # refuses online prediction requests above 1.5 MB, so a larger limit would never be used.
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1, alias="CHURN_MAX_BODY_BYTES")
    # uvicorn workers of the CPR server (Vertex's own variable name for it).
    web_concurrency: int = Field(1, ge=1, alias="VERTEX_CPR_WEB_CONCURRENCY")
    log_level: str = Field("info", alias="LOG_LEVEL")
    # Defaults of the deploy commands' --project, --region and --api-endpoint.
    project: str | None = Field(None, alias="GOOGLE_CLOUD_PROJECT")
    region: str = Field("us-central1", alias="GOOGLE_CLOUD_REGION")
    api_endpoint: str | None = Field(None, alias="VERTEX_API_ENDPOINT")


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()
