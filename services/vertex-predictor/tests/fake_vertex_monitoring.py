"""The fake Vertex API's model deployment monitoring jobs: create, get, list, update (an LRO),
pause and delete. Jobs are stored and returned, never run: no sampling, statistics or alerts."""

from __future__ import annotations

import re
from typing import Any

from .fake_vertex_errors import LOCATION, ApiError


class MonitoringJobRoutes:
    """Mixed into FakeVertexApi, whose state, ids, _find, _list and operations it uses."""

    state: Any

    def _monitoring_routes(self) -> list[tuple[str, str, Any]]:
        jobs = rf"{LOCATION}/modelDeploymentMonitoringJobs"
        return [
            ("POST", jobs, self._create_monitoring_job),
            ("GET", jobs, self._list("modelDeploymentMonitoringJobs")),
            ("GET", rf"{jobs}/(?P<id>[^/:]+)", self._get_monitoring_job),
            ("PATCH", rf"{jobs}/(?P<id>[^/:]+)", self._update_monitoring_job),
            ("POST", rf"{jobs}/(?P<id>[^/:]+):pause", self._pause_monitoring_job),
            ("DELETE", rf"{jobs}/(?P<id>[^/:]+)", self._delete_monitoring_job),
        ]

    def _create_monitoring_job(self, match: re.Match, query: dict, body: dict) -> dict:
        if body.get("endpoint") not in self.state.endpoints:
            raise ApiError(404, "NOT_FOUND", f"Endpoint {body.get('endpoint')} not found.")
        name = f"{self._parent(match)}/modelDeploymentMonitoringJobs/{self._new_id()}"
        job = {**body, "name": name, "state": "JOB_STATE_PENDING",
               "createTime": "2026-11-25T06:00:00Z"}  # fmt: skip
        self.state.monitoring_jobs[name] = job
        return job

    def _get_monitoring_job(self, match: re.Match, query: dict, body: Any) -> dict:
        return self._find("modelDeploymentMonitoringJobs", match)

    def _update_monitoring_job(self, match: re.Match, query: dict, body: dict) -> dict:
        job = self._find("modelDeploymentMonitoringJobs", match)
        for path in filter(None, query.get("updateMask", [""])[0].split(",")):
            camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path)
            job[camel] = body.get(camel)
        return self._operation(match, "ModelDeploymentMonitoringJob", job)

    def _pause_monitoring_job(self, match: re.Match, query: dict, body: Any) -> dict:
        job = self._find("modelDeploymentMonitoringJobs", match)
        job["state"] = "JOB_STATE_PAUSED"
        return {}

    def _delete_monitoring_job(self, match: re.Match, query: dict, body: Any) -> dict:
        job = self._find("modelDeploymentMonitoringJobs", match)
        del self.state.monitoring_jobs[job["name"]]
        return self._empty_operation(match)
