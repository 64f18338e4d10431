"""Container image URIs per region, resolved offline by the sagemaker SDK."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from sagemaker_handler.deploy.client import DeployError
from sagemaker_handler.packaging import TARGET_RUNTIME


def framework_image_uri(region: str, version: str = TARGET_RUNTIME["framework_version"]) -> str:
    """The AWS scikit-learn image for ``region``."""
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
    """The Model Monitor analyzer image for ``region``."""
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
