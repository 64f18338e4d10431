"""The three serving paths as processes to start: command line, readiness route, request forms.

The conformance suite and the benchmarks start the same three servers; this is the one place
that knows how.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The console scripts of the environment running this code: what `uv run --package <service>
# <service> …` runs, without uv's start-up and sync check.
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class ServingPath:
    """One serving path: its server command, readiness route and request bodies."""

    name: str
    ready: str

    def argv(
        self,
        bundle: Path,
        tarball: Path,
        port: int,
        *,
        capture_dir: Path | None = None,
        via_uv: bool = False,
    ) -> list[str]:
        """The server's command line on 127.0.0.1:port. SageMaker is given the tarball it
        would get from S3; serving-api captures to ``capture_dir``, or not at all."""
        serve = {
            "serving-api": [
                "--model-dir",
                str(bundle),
                *(("--capture-dir", str(capture_dir)) if capture_dir else ("--no-capture",)),
            ],
            "sagemaker-handler": ["serve", "--model", str(tarball)],
            "vertex-predictor": ["serve", "--model-dir", str(bundle)],
        }[self.name]
        program = [str(BIN / self.name)]
        if via_uv:
            program = ["uv", "run", "--frozen", "--package", self.name, self.name]
        return [*program, *serve, "--host", "127.0.0.1", "--port", str(port)]

    def single(self, customer: dict[str, Any]) -> tuple[str, Any]:
        """(route, JSON body) for one customer in the path's own one-customer form: serving-api
        /predict and SageMaker take a bare object; Vertex has only the instances envelope."""
        if self.name == "serving-api":
            return "/predict", customer
        if self.name == "sagemaker-handler":
            return "/invocations", customer
        return "/predict", {"instances": [customer]}

    def batch(
        self, customers: list[dict[str, Any]], explain: bool
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        """(route, query parameters, JSON body) of one request for several customers."""
        if self.name == "serving-api":
            params = {"explain": "true"} if explain else {}
            return "/predict/batch", params, {"instances": customers}
        route = "/invocations" if self.name == "sagemaker-handler" else "/predict"
        return route, {}, {"instances": customers, "parameters": {"explain": explain}}

    def answer(self, body: Any) -> Any:
        """The prediction in the answer to ``single``: bare from serving-api's /predict, in
        ``predictions`` from the other two."""
        return body if self.name == "serving-api" else body["predictions"][0]


SERVING_PATHS = (
    ServingPath("serving-api", "/readyz"),
    ServingPath("sagemaker-handler", "/ping"),
    ServingPath("vertex-predictor", "/health"),
)
