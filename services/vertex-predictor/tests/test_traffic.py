"""`vertex-predictor traffic|undeploy`: promotion, rollback and removal of one model, through
the aiplatform SDK against the fake Vertex REST API, checking the exact bodies sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from vertex_predictor.deploy.traffic import moved_split

from .fake_vertex_api import FakeVertexApi
from .test_deploy import Cli


@pytest.fixture
def vp(fake_vertex: FakeVertexApi, gcs_emulator: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(fake_vertex, capsys)


def _stable_and_canary(vp: Cli, bundle_dir: Path) -> tuple[str, str, str]:
    vp("deploy", "--model", vp.upload(bundle_dir)["model"])
    stable = vp("status")["deployed_models"][0]["id"]
    vp.upload(bundle_dir, "--display-name", "churn-model-canary")
    status = vp("deploy", "--model", "churn-model-canary", "--traffic-split", f"0=10,{stable}=90")
    canary = next(d["id"] for d in status["deployed_models"] if d["id"] != stable)
    return status["endpoint"], stable, canary


def test_traffic_promotes_and_rolls_back(vp: Cli, bundle_dir: Path) -> None:
    endpoint, stable, canary = _stable_and_canary(vp, bundle_dir)
    promoted = vp("traffic", "--split", f"{canary}=100")
    (patch,) = [r for r in vp.api.requests if r.method == "PATCH"]
    assert patch.path == f"/v1/{endpoint}"
    assert patch.query["updateMask"] == ["trafficSplit"]
    assert patch.body["trafficSplit"] == {stable: 0, canary: 100}  # unnamed models get 0
    assert promoted["traffic_split"] == {stable: 0, canary: 100}

    rolled_back = vp("traffic", "--split", f"{stable}=100,{canary}=0")
    assert rolled_back["traffic_split"] == {stable: 100, canary: 0}
    assert vp("status")["traffic_split"] == {stable: 100, canary: 0}


def test_traffic_refuses_unknown_ids_and_bad_sums_before_any_update(
    vp: Cli, bundle_dir: Path
) -> None:
    _, stable, canary = _stable_and_canary(vp, bundle_dir)
    assert "no deployed model 999" in vp("traffic", "--split", "999=100", expect=1)
    assert "add up to 100" in vp("traffic", "--split", f"{stable}=60,{canary}=60", expect=1)
    assert [r for r in vp.api.requests if r.method == "PATCH"] == []


def test_undeploy_moves_traffic_first_then_undeploys(vp: Cli, bundle_dir: Path) -> None:
    endpoint, stable, canary = _stable_and_canary(vp, bundle_dir)
    vp.api.state.requests.clear()
    result = vp("undeploy", "--deployed-model-id", stable)
    writes = [r for r in vp.api.requests if r.method in ("PATCH", "POST")]
    assert [(r.method, r.path) for r in writes] == [
        ("PATCH", f"/v1/{endpoint}"),
        ("POST", f"/v1/{endpoint}:undeployModel"),
    ]
    assert writes[0].body["trafficSplit"] == {canary: 100}  # unlisted: 0%
    assert writes[1].body == {"deployedModelId": stable, "trafficSplit": {canary: 100}}
    assert result["undeployed"] == stable
    assert [d["id"] for d in result["deployed_models"]] == [canary]
    assert result["traffic_split"] == {canary: 100}

    # the last model: nothing to move its traffic to
    vp("undeploy", "--deployed-model-id", canary)
    assert vp("status")["deployed_models"] == []
    assert "no deployed model" in vp("undeploy", "--deployed-model-id", canary, expect=1)


@pytest.mark.parametrize(
    ("split", "leaving", "expected"),
    [
        ({"a": 90, "b": 10}, "b", {"a": 100}),
        ({"a": 50, "b": 25, "c": 25}, "a", {"b": 50, "c": 50}),
        ({"a": 40, "b": 30, "c": 30}, "a", {"b": 50, "c": 50}),
        ({"a": 100, "b": 0, "c": 0}, "a", {"b": 50, "c": 50}),
        ({"a": 34, "b": 33, "c": 33}, "c", {"a": 51, "b": 49}),
        ({"a": 100}, "a", {}),
    ],
)
def test_moved_split_keeps_whole_percents_adding_to_100(split, leaving, expected) -> None:
    assert moved_split(split, leaving) == expected
