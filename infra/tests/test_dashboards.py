"""The Grafana dashboards in infra/monitoring/dashboards: the committed JSON and ConfigMap are
what build.py generates; every panel query is evaluated by a promtool unit test
(infra/monitoring/tests/dashboards.test.yml) over series named and labelled exactly as a live
serving-api exports them and as `churn-core drift` pushes them to a real Pushgateway; the
ConfigMap carries the sidecar label and the same JSON in every overlay."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import pytest
import yaml

from churn_core.schema import RiskLevel

from .conftest import (
    MONITORING,
    OVERLAYS,
    DriftPush,
    LiveServing,
    find,
    promtool,
    render,
    sample_names,
)

DASHBOARDS = MONITORING / "dashboards"
PANEL_TESTS = MONITORING / "tests" / "dashboards.test.yml"
# The values promtool's cases give the dashboard variables.
VARIABLES = {"$namespace": "churn", "$__rate_interval": "5m"}
# Labels Prometheus adds when it scrapes serving-api (ServiceMonitor, podTargetLabels: [role]).
SCRAPE_LABELS = {"namespace", "pod", "role", "job"}
# A quantile is compared rounded: histogram interpolation is not exact in floating point.
ROUNDED = re.compile(r"round\((?P<query>.+), 0\.0001\)")


@cache
def build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboards_build", DASHBOARDS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def resolved(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def panel_queries() -> dict[str, str]:
    """'dashboard / panel / refId' -> the query with the variables resolved."""
    return {
        f"{d['uid']} / {p['title']} / {t['refId']}": resolved(t["expr"])
        for d in dashboards().values()
        for p in panels(d)
        for t in p["targets"]
    }


def panel_cases() -> list[dict[str, Any]]:
    return yaml.safe_load(PANEL_TESTS.read_text())["tests"]


def queries_under_test() -> dict[str, int]:
    """Query under test -> how many samples its cases expect (rounded cases unwrapped)."""
    found: dict[str, int] = {}
    for case in panel_cases():
        for check in case["promql_expr_test"]:
            match = ROUNDED.fullmatch(check["expr"])
            query = match["query"] if match else check["expr"]
            found[query] = found.get(query, 0) + len(check.get("exp_samples") or [])
    return found


# -- generated files ---------------------------------------------------------------------------


def test_committed_dashboards_are_what_build_py_generates() -> None:
    outputs = build_module().outputs()
    assert {p.name for p in outputs} >= {"churn-serving.json", "churn-drift.json"}
    for path, text in outputs.items():
        assert path.read_text() == text, (
            f"{path.name} is stale: run uv run python infra/monitoring/dashboards/build.py"
        )


def test_dashboards_have_the_required_panels() -> None:
    titles = {d["uid"]: {p["title"] for p in panels(d)} for d in dashboards().values()}
    assert titles["churn-serving"] >= {
        "Request rate by route and status",
        "Prediction error ratio (5xx)",
        "/predict latency p50 / p95 / p99",
        "Predictions by risk level",
        "Churn probability distribution",
        "Explain latency p50 / p95",
        "Capture queue depth per pod",
        "Capture records written and dropped",
        "Model version in service per pod",
        "Ready pods",
    }
    assert titles["churn-drift"] >= {
        "PSI per feature",
        "Test p-value per feature",
        "Drifted features in the last run",
        "Drifted features over time",
        "Invalid-row share",
        "Rows checked",
        "Last run",
        "Job status: time since last run",
        "Drift detected",
    }


def test_every_panel_queries_the_selected_prometheus() -> None:
    for dashboard in dashboards().values():
        titles = [p["title"] for p in panels(dashboard)]
        assert len(titles) == len(set(titles)), "panel titles name the queries: keep them unique"
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for panel in panels(dashboard):
            assert panel["description"], panel["title"]
            assert panel["targets"], panel["title"]
            for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
                assert source == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            # No variable promtool's cases would leave unresolved.
            for target in panel["targets"]:
                assert "$" not in resolved(target["expr"]), (panel["title"], target["expr"])


# -- every query under promtool ----------------------------------------------------------------


def test_every_panel_query_has_a_promtool_case_expecting_data() -> None:
    queries = panel_queries()
    tested = queries_under_test()
    untested = {where: q for where, q in queries.items() if q not in tested}
    assert untested == {}, f"panel queries without a case in {PANEL_TESTS.name}"
    empty = {where: q for where, q in queries.items() if tested[q] == 0}
    assert empty == {}, "cases must expect samples: a panel that shows nothing proves nothing"
    stale = set(tested) - set(queries.values())
    assert stale == set(), "cases for queries no panel has any more"


def test_panels_use_recording_rules_instead_of_copying_them() -> None:
    """A panel that repeats a recording rule's expression would drift away from it."""
    rules = [
        rule
        for path in sorted((MONITORING / "rules").glob("*.rules.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]
    compact = {re.sub(r"\s+", "", str(r["expr"])) for r in rules if "record" in r}
    recorded = {r["record"] for r in rules if "record" in r}
    used = set()
    for query in panel_queries().values():
        assert re.sub(r"\s+", "", query) not in compact, query
        used.update(name for name in recorded if name in query)
    assert len(used) >= 6  # error ratio, success ratio, p50/p95/p99, drift age


def run_promtool(tests_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "test", "rules", PANEL_TESTS.name],
        cwd=tests_dir,
        capture_output=True,
        text=True,
        check=False,
    )


def test_promtool_evaluates_every_panel_query() -> None:
    result = run_promtool(PANEL_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("serving_capture_dropped_total{", "serving_capture_drops_total{"),  # metric renamed
        ("sum by (risk_level)", "sum by (risk)"),  # label renamed
        ('churn_drift_psi{job="churn-drift"}', 'churn_drift_psi{job="drift"}'),  # job renamed
    ],
)
def test_a_renamed_metric_or_label_in_a_panel_fails(tmp_path: Path, old: str, new: str) -> None:
    """Edit a query the way a panel edit would (in the cases' expr lines only, the series stay
    as the services export them): promtool then fails."""
    shutil.copytree(MONITORING / "rules", tmp_path / "rules")
    (tmp_path / "tests").mkdir()
    lines = PANEL_TESTS.read_text().splitlines(keepends=True)
    edited = [line.replace(old, new) if "expr:" in line else line for line in lines]
    assert edited != lines
    (tmp_path / "tests" / PANEL_TESTS.name).write_text("".join(edited))
    result = run_promtool(tmp_path / "tests")
    assert result.returncode != 0
    assert new.split("{")[0] in result.stdout + result.stderr


# -- the synthetic series are what the services export -----------------------------------------


def input_series(case_name: str) -> list[tuple[str, dict[str, str]]]:
    (case,) = [c for c in panel_cases() if c["name"] == case_name]
    series = []
    for entry in case["input_series"]:
        name, _, labels = entry["series"].partition("{")
        pairs = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', labels)
        series.append((name, dict(pairs)))
    return series


def test_serving_series_are_named_and_labelled_as_serving_api_exports_them(
    serving_api: LiveServing,
) -> None:
    live = sample_names(serving_api.metrics_text)
    series = input_series("serving dashboard panels")
    assert len({name for name, _ in series}) >= 10
    for name, labels in series:
        assert name in live, f"serving-api does not export {name}"
        assert labels.keys() >= SCRAPE_LABELS, (name, labels)
        own = labels.keys() - SCRAPE_LABELS
        assert any(own == live_labels.keys() for live_labels in live[name]), (name, labels)
        if "le" in labels:  # a bucket boundary the histogram really has
            assert labels["le"] in {s["le"] for s in live[name]}, (name, labels["le"])
        if "route" in labels:
            assert labels["route"] in {s["route"] for s in live["serving_requests_total"]}
        if "risk_level" in labels:
            assert labels["risk_level"] in get_args(RiskLevel)
        if "status" in labels:
            assert re.fullmatch(r"[1-5][0-9][0-9]", labels["status"])


def test_drift_series_are_named_and_labelled_as_the_drift_job_pushes_them(
    drift_pushed: DriftPush,
) -> None:
    pushed = sample_names(drift_pushed.exposition)
    series = input_series("drift dashboard panels")
    for name, labels in series:
        assert name in pushed, f"churn-core drift does not push {name}"
        if labels["job"] != "churn-drift":
            continue  # the case's decoy from another job
        pushed_sets = [s for s in pushed[name] if s.get("job") == "churn-drift"]
        # The Pushgateway adds instance="" to a group pushed without one.
        assert any(labels.keys() == s.keys() - {"instance"} for s in pushed_sets), (name, labels)
        if "feature" in labels:
            assert labels["feature"] in {s["feature"] for s in pushed_sets}


# -- provisioning ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_configmap_carries_the_dashboards_for_the_grafana_sidecar(target: str) -> None:
    configmap = find(render(target), "ConfigMap", "churn-grafana-dashboards")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == "churn"
    committed = dashboards()
    assert set(configmap["data"]) == set(committed)
    for key, text in configmap["data"].items():
        assert json.loads(text) == committed[key]
    # kubectl apply (client side) keeps a copy in an annotation, limited to 256 KiB.
    assert sum(len(text.encode()) for text in configmap["data"].values()) < 200 * 1024
