"""What the fake Vertex API modules share: resource paths, type URLs and the error they raise."""

from __future__ import annotations

V1 = "type.googleapis.com/google.cloud.aiplatform.v1."
LOCATION = r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/:]+)"


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message
