"""Build the Grafana dashboards of the churn platform as code (grafana-foundation-sdk).

Writes, next to this file, ``churn-serving.json`` and ``churn-drift.json`` (import them into any
Grafana), and ``infra/k8s/base/grafana-dashboards.yaml``: the same JSON in a ConfigMap that the
Grafana sidecar of kube-prometheus-stack loads (label ``grafana_dashboard: "1"``). Run after
editing this file (dev only: the SDK is a dev dependency):

    uv run python infra/monitoring/dashboards/build.py

infra/tests/test_dashboards.py fails when the committed files differ from what this writes, and
evaluates every panel query in the promtool unit tests of infra/monitoring/tests/.

Queries use the recording rules of infra/monitoring/rules/ where one exists; the rest read the
raw series that serving-api exports (serving_api/metrics.py, plus the ``namespace``, ``pod`` and
``role`` labels the scrape adds) and that ``churn-core drift`` pushes (job="churn-drift").
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from grafana_foundation_sdk.builders import (
    common,
    heatmap,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dashboard_model
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    GraphThresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
    ScaleDistribution,
    StackingMode,
    VisibilityMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    DataTransformerConfig,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

HERE = Path(__file__).resolve().parent
CONFIGMAP = HERE.parents[1] / "k8s" / "base" / "grafana-dashboards.yaml"

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
NS = 'namespace="$namespace"'
DRIFT_JOB = 'job="churn-drift"'
# Drift thresholds shown on the panels: churn_core.drift.DriftThresholds defaults.
PSI_THRESHOLD = 0.2
P_VALUE_THRESHOLD = 0.05
# The alert thresholds of infra/monitoring/rules, drawn as the panels' red line.
ERROR_RATIO_ALERT = 0.01
LATENCY_P95_ALERT = 0.05
INVALID_SHARE_ALERT = 0.05
DRIFT_STALE_AFTER = 26 * 3600


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = ""
    instant: bool = False
    fmt: PromQueryFormat = PromQueryFormat.TIME_SERIES


def query(target: Target, ref_id: str) -> prometheus.Dataquery:
    q = (
        prometheus.Dataquery()
        .expr(target.expr)
        .ref_id(ref_id)
        .datasource(DATASOURCE)
        .format(target.fmt)
    )
    if target.legend:
        q = q.legend_format(target.legend)
    return q.instant() if target.instant else q.range()


PanelT = TypeVar("PanelT", bound=Builder[dashboard_model.Panel])


def with_targets(panel: PanelT, *targets: Target) -> PanelT:
    panel = panel.datasource(DATASOURCE)
    for index, target in enumerate(targets):
        panel = panel.with_target(query(target, chr(ord("A") + index)))
    return panel


def steps(*pairs: tuple[float | None, str]) -> ThresholdsConfig:
    return (
        ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in pairs])
    )


THRESHOLD_LINE = common.GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.LINE)


def alert_line(value: float) -> ThresholdsConfig:
    return steps((None, "green"), (value, "red"))


def mapping(texts: dict[str, tuple[str, str]]) -> ValueMap:
    """Value -> (text, colour) for 0/1 gauges."""
    return ValueMap(
        options={
            value: ValueMappingResult(text=text, color=color, index=i)
            for i, (value, (text, color)) in enumerate(texts.items())
        }
    )


def legend() -> common.VizLegendOptions:
    return (
        common.VizLegendOptions()
        .show_legend(True)
        .display_mode(LegendDisplayMode.TABLE)
        .placement(LegendPlacement.BOTTOM)
        .calcs(["lastNotNull", "max"])
    )


def graph(
    title: str, description: str, unit: str, *targets: Target, red_line: float | None = None
) -> timeseries.Panel:
    """A time series panel; ``red_line`` draws an alert threshold across it."""
    panel = timeseries.Panel().title(title).description(description).unit(unit).legend(legend())
    if red_line is not None:
        panel = panel.thresholds(alert_line(red_line)).thresholds_style(THRESHOLD_LINE)
    return with_targets(panel, *targets)


def big_number(title: str, description: str, unit: str, *targets: Target) -> stat.Panel:
    return with_targets(
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.NONE)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)),
        *targets,
    )


# -- serving -----------------------------------------------------------------------------------


def serving() -> Dashboard:
    requests = f"serving_requests_total{{{NS}}}"
    return (
        Dashboard("Churn / Serving")
        .uid("churn-serving")
        .description("serving-api: traffic, errors, latency, predictions, capture and pods.")
        .tags(["churn", "serving-api"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            QueryVariable("namespace")
            .label("Namespace")
            .datasource(DATASOURCE)
            .query("label_values(serving_requests_total, namespace)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
        .with_row(Row("Traffic"))
        .with_panel(
            graph(
                "Request rate by route and status",
                "HTTP requests per second by route template and status code, every pod.",
                "reqps",
                Target(
                    f"sum by (route, status) (rate({requests}[$__rate_interval]))",
                    "{{route}} {{status}}",
                ),
            ).span(12)
        )
        .with_panel(
            graph(
                "Prediction error ratio (5xx)",
                "Share of prediction requests answered 5xx over 5 minutes (recording rule; "
                "the red line is the ChurnServingHighErrorRatio threshold).",
                "percentunit",
                Target(f"namespace:serving_prediction_errors:ratio_rate5m{{{NS}}}", "5xx ratio"),
                red_line=ERROR_RATIO_ALERT,
            )
            .min(0)
            .span(6)
        )
        .with_panel(
            graph(
                "Prediction success ratio by role",
                "Canary analysis input: 1 - 5xx share over 2 minutes, canary and stable pods "
                "(the Rollout promotes at >= 0.99).",
                "percentunit",
                Target(
                    f"namespace_role:serving_prediction_success:ratio_rate2m{{{NS}}}", "{{role}}"
                ),
            )
            .max(1)
            .span(6)
        )
        .with_panel(
            graph(
                "/predict latency p50 / p95 / p99",
                "From the request-duration histogram, single-customer /predict over 5 minutes "
                "(recording rules; the red line is the 50 ms p95 alert).",
                "s",
                Target(f"namespace:serving_predict_latency_seconds:p50_5m{{{NS}}}", "p50"),
                Target(f"namespace:serving_predict_latency_seconds:p95_5m{{{NS}}}", "p95"),
                Target(f"namespace:serving_predict_latency_seconds:p99_5m{{{NS}}}", "p99"),
                red_line=LATENCY_P95_ALERT,
            ).span(12)
        )
        .with_panel(
            graph(
                "p95 latency by route",
                "95th percentile of request duration per route template.",
                "s",
                Target(
                    "histogram_quantile(0.95, sum by (route, le) "
                    f"(rate(serving_request_duration_seconds_bucket{{{NS}}}[$__rate_interval])))",
                    "{{route}}",
                ),
            ).span(12)
        )
        .with_row(Row("Model"))
        .with_panel(
            graph(
                "Predictions by risk level",
                "Customers scored per second by risk level (a batch of 100 counts 100).",
                "ops",
                Target(
                    "sum by (risk_level) "
                    f"(rate(serving_predictions_total{{{NS}}}[$__rate_interval]))",
                    "{{risk_level}}",
                ),
            )
            .stacking(common.StackingConfig().mode(StackingMode.NORMAL))
            .span(12)
        )
        .with_panel(
            with_targets(
                heatmap.Panel()
                .title("Churn probability distribution")
                .description(
                    "Predicted churn probabilities per interval, in the histogram's 0.05-wide "
                    "buckets: a shift here is prediction drift as it happens."
                )
                .calculate(False)
                .y_axis(heatmap.YAxisConfig().unit("percentunit"))
                .cell_values(heatmap.CellValues().unit("short")),
                Target(
                    "sum by (le) "
                    f"(increase(serving_churn_probability_bucket{{{NS}}}[$__rate_interval]))",
                    "{{le}}",
                    fmt=PromQueryFormat.HEATMAP,
                ),
            ).span(12)
        )
        .with_panel(
            graph(
                "Explain latency p50 / p95",
                "Time to predict and explain one request's customers (SHAP), from its histogram.",
                "s",
                Target(
                    "histogram_quantile(0.5, sum by (le) "
                    f"(rate(serving_explain_duration_seconds_bucket{{{NS}}}[$__rate_interval])))",
                    "p50",
                ),
                Target(
                    "histogram_quantile(0.95, sum by (le) "
                    f"(rate(serving_explain_duration_seconds_bucket{{{NS}}}[$__rate_interval])))",
                    "p95",
                ),
            ).span(12)
        )
        .with_row(Row("Pods and capture"))
        .with_panel(
            big_number(
                "Ready pods",
                "Pods whose model is loaded and warmed (serving_model_ready = 1).",
                "short",
                Target(f"sum(serving_model_ready{{{NS}}})", instant=True),
            )
            .thresholds(steps((None, "red"), (1, "orange"), (2, "green")))
            .span(4)
        )
        .with_panel(
            with_targets(
                table.Panel()
                .title("Model version in service per pod")
                .description(
                    "serving_model_info per pod and role: the bundle each pod serves, and whether"
                    " its signature was verified against a trusted key."
                )
                .with_transformation(
                    _organize(
                        exclude=("Time", "Value"), order=("pod", "role", "model_version", "signed")
                    )
                ),
                Target(
                    f"max by (pod, role, model_version, signed) (serving_model_info{{{NS}}})",
                    instant=True,
                    fmt=PromQueryFormat.TABLE,
                ),
            ).span(8)
        )
        .with_panel(
            graph(
                "Capture queue depth per pod",
                "Prediction records waiting for the capture writer.",
                "short",
                Target(f"max by (pod) (serving_capture_queue_depth{{{NS}}})", "{{pod}}"),
            ).span(12)
        )
        .with_panel(
            graph(
                "Capture records written and dropped",
                "Records per second written to the capture volume, and dropped (queue full or "
                "write failed; ChurnServingCaptureDropping fires on any drop).",
                "ops",
                Target(
                    f"sum(rate(serving_capture_records_total{{{NS}}}[$__rate_interval]))",
                    "written",
                ),
                Target(
                    f"sum(rate(serving_capture_dropped_total{{{NS}}}[$__rate_interval]))",
                    "dropped",
                ),
            ).span(12)
        )
    )


def _organize(exclude: tuple[str, ...], order: tuple[str, ...]) -> DataTransformerConfig:
    """Grafana's "organize fields" transformation: hide some columns, order the rest."""
    return DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": {name: True for name in exclude},
            "indexByName": {name: i for i, name in enumerate(order)},
        },
    )


# -- drift -------------------------------------------------------------------------------------


def drift() -> Dashboard:
    return (
        Dashboard("Churn / Drift")
        .uid("churn-drift")
        .description(
            "The daily drift job (churn-core drift, pushed to the Pushgateway): its last "
            "verdict, per-feature PSI and p-values, and the quality of the captured rows."
        )
        .tags(["churn", "drift"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("5m")
        .time("now-30d", "now")
        .timezone("browser")
        .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_row(Row("Last run"))
        .with_panel(
            big_number(
                "Drift detected",
                "The last run's verdict: any feature or the prediction distribution drifted.",
                "none",
                Target(f"churn_drift_detected{{{DRIFT_JOB}}}", instant=True),
            )
            .mappings([mapping({"0": ("No drift", "green"), "1": ("Drift", "red")})])
            .span(4)
        )
        .with_panel(
            big_number(
                "Last run",
                "When the drift job last pushed its result.",
                "dateTimeFromNow",
                Target(
                    f"churn_drift_last_run_timestamp_seconds{{{DRIFT_JOB}}} * 1000", instant=True
                ),
            )
            .color_mode(BigValueColorMode.NONE)
            .span(4)
        )
        .with_panel(
            big_number(
                "Job status: time since last run",
                "Red after 26 hours without a push (ChurnDriftJobStale); no value means the "
                "job never reported (ChurnDriftJobNeverReported).",
                "s",
                Target("job:churn_drift_last_run:age_seconds", instant=True),
            )
            .thresholds(steps((None, "green"), (DRIFT_STALE_AFTER, "red")))
            .no_value("never reported")
            .span(4)
        )
        .with_panel(
            big_number(
                "Drifted features in the last run",
                "Features (and churn_probability, prediction drift) flagged in the last run.",
                "short",
                Target(f"sum(churn_drift_feature_drifted{{{DRIFT_JOB}}})", instant=True),
            )
            .thresholds(steps((None, "green"), (1, "red")))
            .span(4)
        )
        .with_panel(
            big_number(
                "Rows checked",
                "Valid captured rows the last run compared with the reference.",
                "short",
                Target(f"churn_drift_rows_checked{{{DRIFT_JOB}}}", instant=True),
            )
            .color_mode(BigValueColorMode.NONE)
            .span(4)
        )
        .with_panel(
            big_number(
                "Invalid-row share",
                "Captured rows the schema rejected in the last run (alert above 5 %).",
                "percentunit",
                Target(f"churn_drift_invalid_share{{{DRIFT_JOB}}}", instant=True),
            )
            .thresholds(alert_line(INVALID_SHARE_ALERT))
            .span(4)
        )
        .with_row(Row("Per feature over time"))
        .with_panel(
            with_targets(
                statetimeline.Panel()
                .title("Drifted features over time")
                .description("Each run's per-feature verdict (churn_probability: predictions).")
                .mappings([mapping({"0": ("ok", "green"), "1": ("drifted", "red")})])
                .show_value(VisibilityMode.NEVER),
                Target(f"churn_drift_feature_drifted{{{DRIFT_JOB}}}", "{{feature}}"),
            ).span(24)
        )
        .with_panel(
            graph(
                "PSI per feature",
                f"Population stability index of each feature; {PSI_THRESHOLD} or more flags it.",
                "none",
                Target(f"churn_drift_psi{{{DRIFT_JOB}}}", "{{feature}}"),
                red_line=PSI_THRESHOLD,
            ).span(12)
        )
        .with_panel(
            graph(
                "Test p-value per feature",
                "KS (numeric) or chi-square (categorical) p-value, log scale; below "
                f"{P_VALUE_THRESHOLD} flags the feature.",
                "none",
                Target(f"churn_drift_p_value{{{DRIFT_JOB}}}", "{{feature}}"),
            )
            .scale_distribution(
                common.ScaleDistributionConfig().type(ScaleDistribution.LOG).log(10)
            )
            .thresholds(steps((None, "red"), (P_VALUE_THRESHOLD, "green")))
            .thresholds_style(THRESHOLD_LINE)
            .span(12)
        )
    )


# -- output ------------------------------------------------------------------------------------

DASHBOARDS = {"churn-serving.json": serving, "churn-drift.json": drift}


def to_json(dashboard: Dashboard) -> str:
    return json.dumps(dashboard.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def configmap(rendered: dict[str, str]) -> str:
    lines = [
        "# GENERATED by infra/monitoring/dashboards/build.py: edit that file and re-run it (a",
        "# test checks that this file matches it). The Grafana sidecar of kube-prometheus-stack",
        '# loads every ConfigMap labelled grafana_dashboard: "1" (its sidecar must search this',
        "# namespace: sidecar.dashboards.searchNamespace ALL, or churn).",
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: churn-grafana-dashboards",
        "  labels:",
        "    app.kubernetes.io/name: churn-platform",
        '    grafana_dashboard: "1"',
        "  annotations:",
        "    # The folder, when the sidecar is configured with folderAnnotation: grafana_folder.",
        "    grafana_folder: Churn platform",
        "data:",
    ]
    for name, text in rendered.items():
        lines.append(f"  {name}: |")
        lines.extend(f"    {line}" if line else "" for line in text.splitlines())
    return "\n".join(lines) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file and its content."""
    rendered = {name: to_json(build()) for name, build in DASHBOARDS.items()}
    files = {HERE / name: text for name, text in rendered.items()}
    files[CONFIGMAP] = configmap(rendered)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is out of date"
    )
    args = parser.parse_args(argv)
    files, stale = outputs(), []
    for path, text in files.items():
        shown = path.relative_to(HERE.parents[2])
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(shown)
            continue
        path.write_text(text)
        print(f"wrote {shown}")
    if args.check:
        for shown in stale:
            print(f"{shown} is OUT OF DATE: re-run without --check")
        print(f"{len(files) - len(stale)} of {len(files)} generated files up to date")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
