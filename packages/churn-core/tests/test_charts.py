"""The reports' inline-SVG charts: data land where they should, labels are escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from churn_core import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - markup the test itself just generated


@pytest.mark.parametrize(
    ("value", "top"), [(0.1122, 0.12), (0.5606, 0.6), (0.0682, 0.08), (1.0, 1.0), (0.0, 1.0)]
)
def test_axis_tops_are_round_and_not_below_the_data(value: float, top: float) -> None:
    assert charts.nice_ceiling(value) == pytest.approx(top)


def test_a_line_runs_corner_to_corner_of_the_plot_area() -> None:
    svg = charts.line_chart("t", [charts.Series("diag", [0, 1], [0, 1])], x_label="x", y_label="y")
    [line] = parse(svg).iter(f"{SVG}polyline")
    (x0, y0), (x1, y1) = (map(float, p.split(",")) for p in line.get("points").split())
    m = charts.MARGIN
    assert (x0, y0) == (m["left"], charts.HEIGHT - m["bottom"])
    assert (x1, y1) == (charts.WIDTH - m["right"], m["top"])


def test_histogram_draws_one_bar_per_bin_and_an_outline_for_the_other_sample() -> None:
    edges = [0, 1, 2, 3]
    svg = charts.histogram("h", edges, {"a": [0.2, 0.5, 0.3], "b": [0.3, 0.3, 0.4]}, x_label="v")
    root = parse(svg)
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill-opacity")]
    assert len(bars) == 3
    heights = [float(b.get("height")) for b in bars]
    assert heights[1] == max(heights)  # 0.5 is the tallest share
    [outline] = root.iter(f"{SVG}polyline")
    assert len(outline.get("points").split()) == 2 + 2 * 3


def test_horizontal_bars_are_sorted_and_labels_escaped() -> None:
    svg = charts.horizontal_bars("i", ["small", "<big>"], [0.1, 0.4])
    labels = re.findall(r'text-anchor="end">([^<]*)</text>', svg)
    assert labels == ["&lt;big&gt;", "small"]
    parse(svg)  # well-formed
