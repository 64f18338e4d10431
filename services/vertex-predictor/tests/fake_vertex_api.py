"""A small in-memory fake of the Vertex AI v1 REST API, enough for the aiplatform SDK.

It serves the resources the deploy tooling touches (models, endpoints and their traffic
split, deployed models, batch prediction jobs, model deployment monitoring jobs, long-running
operations), answers every long-running operation as
already done, and records every request so tests can assert on the exact bodies the SDK sent.
Online prediction is forwarded to a real model server when one is registered with
``serve_predictions_from``; otherwise :predict answers 503 like an endpoint with no ready model.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .fake_vertex_errors import LOCATION, V1, ApiError
from .fake_vertex_monitoring import MonitoringJobRoutes


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any

    @property
    def action(self) -> str:
        """`METHOD path` with numeric ids as `*`: `POST .../endpoints/*:deployModel`."""
        path = re.sub(r"/\d+", "/*", self.path)
        return f"{self.method} {path}"


@dataclass
class FakeVertexState:
    models: dict[str, dict] = field(default_factory=dict)
    endpoints: dict[str, dict] = field(default_factory=dict)
    batch_jobs: dict[str, dict] = field(default_factory=dict)
    monitoring_jobs: dict[str, dict] = field(default_factory=dict)
    operations: dict[str, dict] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)


class FakeVertexApi(MonitoringJobRoutes):
    """Start with ``with FakeVertexApi() as api:``; point the SDK at ``api.url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = FakeVertexState()
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._prediction_backend: str | None = None
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self.state.requests)

    def requests_to(self, action_suffix: str, method: str = "POST") -> list[RecordedRequest]:
        return [
            r for r in self.state.requests if r.method == method and r.path.endswith(action_suffix)
        ]

    def serve_predictions_from(self, predict_url: str | None) -> None:
        """Forward every endpoint :predict to this URL (a real CPR server's predict route)."""
        self._prediction_backend = predict_url

    def start(self) -> FakeVertexApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeVertexApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing ---------------------------------------------------------------------------

    def dispatch(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        with self._lock:
            self.state.requests.append(RecordedRequest(method, path, query, body))
        path = re.sub(r"^/v1(beta1)?/", "", path)
        for route_method, pattern, action in self._routes():
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                with self._lock:
                    return 200, action(match, query, body)
        raise ApiError(404, "NOT_FOUND", f"fake Vertex API has no route for {method} /{path}")

    def _routes(self) -> list[tuple[str, str, Any]]:
        res = LOCATION
        return [
            ("POST", rf"{res}/models:upload", self._upload_model),
            ("GET", rf"{res}/models/(?P<id>[^/:@]+)(@[^/:]+)?", self._get_model),
            ("GET", rf"{res}/models", self._list("models")),
            ("DELETE", rf"{res}/models/(?P<id>[^/:@]+)", self._delete_model),
            ("POST", rf"{res}/endpoints", self._create_endpoint),
            ("GET", rf"{res}/endpoints", self._list("endpoints")),
            ("GET", rf"{res}/endpoints/(?P<id>[^/:]+)", self._get_endpoint),
            ("DELETE", rf"{res}/endpoints/(?P<id>[^/:]+)", self._delete_endpoint),
            ("PATCH", rf"{res}/endpoints/(?P<id>[^/:]+)", self._update_endpoint),
            ("POST", rf"{res}/endpoints/(?P<id>[^/:]+):deployModel", self._deploy_model),
            ("POST", rf"{res}/endpoints/(?P<id>[^/:]+):undeployModel", self._undeploy_model),
            ("POST", rf"{res}/endpoints/(?P<id>[^/:]+):predict", self._predict),
            ("POST", rf"{res}/batchPredictionJobs", self._create_batch_job),
            ("GET", rf"{res}/batchPredictionJobs/(?P<id>[^/:]+)", self._get_batch_job),
            ("GET", rf"{res}/operations/(?P<id>[^/:]+)", self._get_operation),
            *self._monitoring_routes(),
        ]

    # -- helpers ---------------------------------------------------------------------------

    def _new_id(self) -> str:
        return str(next(self._ids))

    @staticmethod
    def _parent(match: re.Match) -> str:
        return f"projects/{match['project']}/locations/{match['location']}"

    def _operation(self, match: re.Match, response_type: str, response: dict) -> dict:
        name = f"{self._parent(match)}/operations/{self._new_id()}"
        type_url = response_type if "/" in response_type else V1 + response_type
        operation = {"name": name, "done": True, "response": {"@type": type_url, **response}}
        self.state.operations[name] = operation
        return operation

    def _empty_operation(self, match: re.Match) -> dict:
        return self._operation(match, "type.googleapis.com/google.protobuf.Empty", {})

    def _find(self, kind: str, match: re.Match) -> dict:
        name = f"{self._parent(match)}/{kind}/{match['id']}"
        store = getattr(self.state, _STORES[kind])
        if name not in store:
            raise ApiError(404, "NOT_FOUND", f"{kind[:-1].capitalize()} {name} not found.")
        return store[name]

    def _list(self, kind: str):
        def action(match: re.Match, query: dict, body: Any) -> dict:
            store = getattr(self.state, _STORES[kind])
            items = [r for r in store.values() if r["name"].startswith(self._parent(match) + "/")]
            wanted = _display_name_filter(query.get("filter", [""])[0])
            if wanted is not None:
                items = [r for r in items if r.get("displayName") == wanted]
            return {kind: items}

        return action

    # -- models ----------------------------------------------------------------------------

    def _upload_model(self, match: re.Match, query: dict, body: dict) -> dict:
        model_id = body.get("modelId") or self._new_id()
        name = f"{self._parent(match)}/models/{model_id}"
        model = {
            **body["model"],
            "name": name,
            "versionId": "1",
            "versionAliases": ["default"],
            "supportedDeploymentResourcesTypes": ["DEDICATED_RESOURCES"],
            "supportedInputStorageFormats": ["jsonl", "csv", "bigquery"],
            "supportedOutputStorageFormats": ["jsonl", "bigquery"],
            "createTime": "2026-11-25T06:00:00Z",
            "updateTime": "2026-11-25T06:00:00Z",
        }
        self.state.models[name] = model
        return self._operation(match, "UploadModelResponse", {"model": name, "modelVersionId": "1"})

    def _get_model(self, match: re.Match, query: dict, body: Any) -> dict:
        return self._find("models", match)

    def _delete_model(self, match: re.Match, query: dict, body: Any) -> dict:
        model = self._find("models", match)
        for endpoint in self.state.endpoints.values():
            if any(d["model"].split("@")[0] == model["name"] for d in endpoint["deployedModels"]):
                raise ApiError(
                    400, "FAILED_PRECONDITION", f"Model is deployed to {endpoint['name']}."
                )
        del self.state.models[model["name"]]
        return self._operation(match, "type.googleapis.com/google.protobuf.Empty", {})

    # -- endpoints -------------------------------------------------------------------------

    def _create_endpoint(self, match: re.Match, query: dict, body: dict) -> dict:
        endpoint_id = query.get("endpointId", [None])[0] or self._new_id()
        name = f"{self._parent(match)}/endpoints/{endpoint_id}"
        endpoint = {**body, "name": name, "deployedModels": [], "trafficSplit": {}}
        endpoint["createTime"] = endpoint["updateTime"] = "2026-11-25T06:00:00Z"
        self.state.endpoints[name] = endpoint
        return self._operation(match, "Endpoint", endpoint)

    def _get_endpoint(self, match: re.Match, query: dict, body: Any) -> dict:
        return self._find("endpoints", match)

    def _update_endpoint(self, match: re.Match, query: dict, body: dict) -> dict:
        """UpdateEndpoint: only the fields of updateMask change; a traffic split must name
        deployed models and add up to 100, as Vertex checks."""
        endpoint = self._find("endpoints", match)
        mask = [f for f in query.get("updateMask", [""])[0].split(",") if f]
        fields = {"trafficSplit": "traffic_split", "displayName": "display_name",
                  "description": "description", "labels": "labels"}  # fmt: skip
        unknown = [f for f in mask if f not in fields and f not in fields.values()]
        if not mask or unknown:
            raise ApiError(400, "INVALID_ARGUMENT", f"unsupported update mask {mask}")
        for camel, snake in fields.items():
            if camel in mask or snake in mask:
                if camel == "trafficSplit":
                    _check_split(endpoint, body.get("trafficSplit") or {})
                endpoint[camel] = body.get(camel)
        endpoint["updateTime"] = "2026-11-25T07:00:00Z"
        return endpoint

    def _delete_endpoint(self, match: re.Match, query: dict, body: Any) -> dict:
        endpoint = self._find("endpoints", match)
        if endpoint["deployedModels"]:
            raise ApiError(
                400, "FAILED_PRECONDITION", "Endpoint has deployed models; undeploy them first."
            )
        del self.state.endpoints[endpoint["name"]]
        return self._empty_operation(match)

    def _deploy_model(self, match: re.Match, query: dict, body: dict) -> dict:
        endpoint = self._find("endpoints", match)
        deployed = dict(body["deployedModel"])
        model_name = deployed["model"].split("@")[0]
        if model_name not in self.state.models:
            raise ApiError(404, "NOT_FOUND", f"Model {model_name} not found.")
        deployed["id"] = self._new_id()
        deployed.setdefault("displayName", self.state.models[model_name].get("displayName"))
        deployed["modelVersionId"] = "1"
        endpoint["deployedModels"].append(deployed)
        split = body.get("trafficSplit") or {"0": 100}
        endpoint["trafficSplit"] = {
            (deployed["id"] if key == "0" else key): value for key, value in split.items()
        }
        return self._operation(match, "DeployModelResponse", {"deployedModel": deployed})

    def _undeploy_model(self, match: re.Match, query: dict, body: dict) -> dict:
        endpoint = self._find("endpoints", match)
        target = body["deployedModelId"]
        if not any(d["id"] == target for d in endpoint["deployedModels"]):
            raise ApiError(404, "NOT_FOUND", f"DeployedModel {target} not found.")
        endpoint["deployedModels"] = [d for d in endpoint["deployedModels"] if d["id"] != target]
        split = body.get("trafficSplit")
        if split is None:
            split = {k: v for k, v in endpoint["trafficSplit"].items() if k != target}
        endpoint["trafficSplit"] = split
        return self._operation(match, "UndeployModelResponse", {})

    def _predict(self, match: re.Match, query: dict, body: dict) -> dict:
        endpoint = self._find("endpoints", match)
        if not endpoint["deployedModels"] or self._prediction_backend is None:
            raise ApiError(503, "UNAVAILABLE", "No model is ready to serve this endpoint.")
        deployed = endpoint["deployedModels"][0]
        request = urllib.request.Request(
            self._prediction_backend,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ApiError(400, "FAILED_PRECONDITION", error.read().decode()) from error
        return {
            "predictions": answer["predictions"],
            "deployedModelId": deployed["id"],
            "model": deployed["model"],
            "modelVersionId": deployed["modelVersionId"],
            "modelDisplayName": deployed.get("displayName", ""),
        }

    # -- batch prediction ------------------------------------------------------------------

    def _create_batch_job(self, match: re.Match, query: dict, body: dict) -> dict:
        name = f"{self._parent(match)}/batchPredictionJobs/{self._new_id()}"
        job = {
            **body,
            "name": name,
            "state": "JOB_STATE_PENDING",
            "createTime": "2026-11-25T06:00:00Z",
        }
        self.state.batch_jobs[name] = job
        return job

    def _get_batch_job(self, match: re.Match, query: dict, body: Any) -> dict:
        # A real job takes minutes; the fake runs on the first look and is done on the second.
        job = self._find("batchPredictionJobs", match)
        if job["state"] == "JOB_STATE_PENDING":
            job["state"] = "JOB_STATE_RUNNING"
        elif job["state"] == "JOB_STATE_RUNNING":
            prefix = job["outputConfig"]["gcsDestination"]["outputUriPrefix"].rstrip("/")
            job["state"] = "JOB_STATE_SUCCEEDED"
            job["outputInfo"] = {"gcsOutputDirectory": f"{prefix}/prediction-fake"}
        return job

    def _get_operation(self, match: re.Match, query: dict, body: Any) -> dict:
        name = f"{self._parent(match)}/operations/{match['id']}"
        if name not in self.state.operations:
            raise ApiError(404, "NOT_FOUND", f"Operation {name} not found.")
        return self.state.operations[name]


_STORES = {
    "models": "models",
    "endpoints": "endpoints",
    "batchPredictionJobs": "batch_jobs",
    "modelDeploymentMonitoringJobs": "monitoring_jobs",
}


def _check_split(endpoint: dict, split: dict) -> None:
    ids = {d["id"] for d in endpoint["deployedModels"]}
    if set(split) - ids:
        raise ApiError(400, "INVALID_ARGUMENT", f"traffic split names {set(split) - ids}")
    if split and sum(split.values()) != 100:
        raise ApiError(400, "INVALID_ARGUMENT", "traffic split must add up to 100")


def _display_name_filter(expression: str) -> str | None:
    match = re.fullmatch(r'\s*display_name\s*=\s*"([^"]*)"\s*', expression or "")
    return match.group(1) if match else None


def _handler_for(api: FakeVertexApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            try:
                status, payload = api.dispatch(method, unquote(url.path), parse_qs(url.query), body)
            except ApiError as error:
                status = error.code
                payload = {
                    "error": {"code": error.code, "message": error.message, "status": error.status}
                }
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

    return Handler
