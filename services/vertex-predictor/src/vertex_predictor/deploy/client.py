"""The aiplatform SDK set up for one project and region, and Vertex resources found by name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud import aiplatform

DEFAULT_MACHINE_TYPE = "n1-standard-2"


class DeployError(RuntimeError):
    """A Vertex resource is missing or answered something unusable."""


@dataclass(frozen=True)
class VertexTarget:
    project: str
    region: str
    api_endpoint: str | None = None

    @property
    def is_plaintext_endpoint(self) -> bool:
        return bool(self.api_endpoint and self.api_endpoint.startswith("http://"))


def init_sdk(target: VertexTarget) -> None:
    """Point the SDK at ``target``.

    An ``http://`` API endpoint is a local fake or emulator: it gets anonymous credentials,
    both because there are none to find and because real ones must not cross plain HTTP.
    """
    from google.cloud import aiplatform

    credentials = None
    if target.is_plaintext_endpoint:
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    aiplatform.init(
        project=target.project,
        location=target.region,
        api_endpoint=target.api_endpoint,
        api_transport="rest",
        credentials=credentials,
    )


# -- resolving names -------------------------------------------------------------------------


def is_resource_id(ref: str) -> bool:
    return ref.startswith("projects/") or ref.isdigit()


def find_model(ref: str) -> aiplatform.Model:
    """A Model by resource name, numeric id or display name (newest when several share it)."""
    from google.api_core.exceptions import NotFound
    from google.cloud import aiplatform

    if is_resource_id(ref):
        try:
            return aiplatform.Model(ref)
        except NotFound:
            raise DeployError(f"model {ref} not found") from None
    models = aiplatform.Model.list(filter=f'display_name="{ref}"')
    if not models:
        raise DeployError(f"no model named {ref!r}")
    return max(models, key=lambda m: m.create_time)


def find_endpoint(ref: str) -> aiplatform.Endpoint | None:
    """An Endpoint by resource name, numeric id or display name; None when there is none."""
    from google.api_core.exceptions import NotFound
    from google.cloud import aiplatform

    if is_resource_id(ref):
        endpoint = aiplatform.Endpoint(ref)
        try:
            endpoint.gca_resource  # noqa: B018 - Endpoint() is lazy; this is the GET
        except NotFound:
            return None
        return endpoint
    endpoints = aiplatform.Endpoint.list(filter=f'display_name="{ref}"')
    if len(endpoints) > 1:
        names = ", ".join(e.resource_name for e in endpoints)
        raise DeployError(f"several endpoints are named {ref!r} ({names}); pass a resource name")
    return endpoints[0] if endpoints else None


def require_endpoint(ref: str) -> aiplatform.Endpoint:
    endpoint = find_endpoint(ref)
    if endpoint is None:
        raise DeployError(f"endpoint {ref!r} not found")
    return endpoint


def label_value(text: str) -> str:
    """Vertex label values: lowercase letters, digits, '-' and '_', at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]
