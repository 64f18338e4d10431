"""Settings from the environment SageMaker and the AWS tools define; flags override them.

Read when the command runs, never at import. Empty variables count as unset.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    # `serve`: SageMaker extracts the model to SM_MODEL_DIR and may pick the port (BYOC images
    # labelled accept-bind-to-port).
    model_dir: str = Field("/opt/ml/model", validation_alias="SM_MODEL_DIR")
    port: int = Field(8080, ge=1, le=65535, validation_alias="SAGEMAKER_BIND_TO_PORT")
    # The AWS commands: the variables boto3 and the AWS CLI read, and ours for role and bucket.
    # No default region: unset, the AWS commands fall back to boto3's chain (the profile's).
    region: str | None = Field(
        None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    role_arn: str | None = Field(None, validation_alias="SAGEMAKER_ROLE_ARN")
    bucket: str | None = Field(None, validation_alias="SAGEMAKER_BUCKET")
