"""The Prometheus rules in infra/monitoring: promtool checks and unit tests, and the metric
names they use checked against a live serving-api and a real Pushgateway."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from .conftest import MONITORING, DriftPush, LiveServing, promtool, sample_names

RULE_FILES = sorted((MONITORING / "rules").glob("*.rules.yml"))
TEST_FILES = sorted((MONITORING / "tests").glob("*.test.yml"))

# A PromQL string literal, or an identifier (metric, label, function or recording-rule name).
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[a-zA-Z_:][a-zA-Z0-9_:]*')


def rules() -> list[dict[str, Any]]:
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.extend(group["rules"])
    return found


def metric_names(expr: str, prefix: str) -> set[str]:
    """Raw metric names in a PromQL expression (recording-rule names contain ':')."""
    return {
        token
        for token in _TOKEN.findall(expr)
        if token.startswith(prefix) and ":" not in token and not token.startswith('"')
    }


def names_used(prefix: str) -> set[str]:
    return set().union(*(metric_names(str(rule["expr"]), prefix) for rule in rules()))


def test_rule_files_exist_and_cover_the_required_alerts() -> None:
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert {
        "ChurnServingHighErrorRatio",
        "ChurnServingHighLatencyP95",
        "ChurnServingNoPredictions",
        "ChurnDriftDetected",
        "ChurnDriftJobStale",
    } <= alerts
    thresholds = {rule["alert"]: str(rule["expr"]) for rule in rules() if "alert" in rule}
    assert thresholds["ChurnServingHighErrorRatio"].endswith("> 0.01")
    assert thresholds["ChurnServingHighLatencyP95"].endswith("> 0.05")
    assert "26 * 3600" in thresholds["ChurnDriftJobStale"]


def test_promtool_check_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", *map(str, RULE_FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_FILES)


def test_promtool_unit_tests_pass() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", *(p.name for p in TEST_FILES)],
        cwd=MONITORING / "tests",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(TEST_FILES)


def test_every_alert_is_tested_firing_and_silent() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts - fired == set(), "alerts never shown firing in a promtool test"
    assert alerts - silent == set(), "alerts never shown silent in a promtool test"


def test_unit_tests_catch_a_wrong_threshold(tmp_path: Path) -> None:
    """The promtool tests are not vacuous: loosen two thresholds and they fail."""
    shutil.copytree(MONITORING / "rules", tmp_path / "rules")
    shutil.copytree(MONITORING / "tests", tmp_path / "tests")
    serving = tmp_path / "rules" / "serving.rules.yml"
    serving.write_text(serving.read_text().replace("ratio_rate5m > 0.01", "ratio_rate5m > 0.5"))
    drift = tmp_path / "rules" / "drift.rules.yml"
    drift.write_text(drift.read_text().replace("> 26 * 3600", "> 30 * 3600"))
    result = subprocess.run(
        [promtool(), "test", "rules", *(p.name for p in TEST_FILES)],
        cwd=tmp_path / "tests",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    failures = result.stdout + result.stderr
    assert "alertname: ChurnServingHighErrorRatio" in failures
    assert "alertname: ChurnDriftJobStale" in failures


def test_rule_metric_names_exist_in_live_serving_api(serving_api: LiveServing) -> None:
    used = names_used("serving_")
    assert {"serving_requests_total", "serving_request_duration_seconds_bucket"} <= used
    exported = sample_names(serving_api.metrics_text)
    assert used - exported.keys() == set(), "names in the rules that serving-api does not export"


def test_route_and_status_matchers_fit_live_labels(serving_api: LiveServing) -> None:
    exported = sample_names(serving_api.metrics_text)
    requests = exported["serving_requests_total"]
    routes = {labels["route"] for labels in requests}
    assert serving_api.prediction_routes <= routes
    assert "/readyz" in routes  # probed while starting: not a prediction route
    # Statuses are plain codes, so status=~"5.." means server errors.
    assert {labels["status"] for labels in requests} >= {"200", "422"}

    exprs = [str(rule["expr"]) for rule in rules()]
    patterns = {m for e in exprs for m in re.findall(r'route=~"([^"]+)"', e)}
    assert patterns, "the rules select prediction routes with route=~"
    for pattern in patterns:  # PromQL regexes are anchored at both ends
        matched = {route for route in routes if re.fullmatch(pattern, route)}
        assert matched == serving_api.prediction_routes, pattern
    for route in {m for e in exprs for m in re.findall(r'route="([^"]+)"', e)}:
        assert route in routes
    latency = {labels["route"] for labels in exported["serving_request_duration_seconds_bucket"]}
    assert "/predict" in latency


def test_drift_metric_names_pushed_to_a_real_pushgateway(drift_pushed: DriftPush) -> None:
    """`churn-core drift` over serving-api's own captures, pushed to a real Pushgateway: every
    churn_drift_* name the rules use is there, under job="churn-drift"."""
    pushed = sample_names(drift_pushed.exposition)
    ours = {
        name for name, sets in pushed.items() if any(s.get("job") == "churn-drift" for s in sets)
    }
    used = names_used("churn_drift_")
    assert {"churn_drift_detected", "churn_drift_last_run_timestamp_seconds"} <= used
    assert used - ours == set(), "names in the rules that the drift job does not push"
    features = {s["feature"] for s in pushed["churn_drift_feature_drifted"]}
    assert {"Age", "Geography", "Balance"} <= features
    # The stale rule compares with time(): the push must be a Unix time in seconds.
    (stamp,) = [
        float(line.split()[-1])
        for line in drift_pushed.exposition.splitlines()
        if line.startswith("churn_drift_last_run_timestamp_seconds{")
    ]
    assert drift_pushed.started - 5 <= stamp <= time.time() + 5
