"""Small inline-SVG charts for the HTML reports: lines, grouped bars, histograms, horizontal bars.

Hand-drawn on purpose: the report pages must open offline with no script and no network
resource, and a plotting library (matplotlib, plotly) would be a heavy dependency of the core
for a few axes and polylines. Every label is escaped; numbers are formatted here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 440, 300
MARGIN = {"left": 52, "right": 26, "top": 26, "bottom": 44}
REFERENCE_COLOR, CURRENT_COLOR = "#4c78a8", "#f58518"
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756")


@dataclass(frozen=True)
class Series:
    """One line (or set of points) of a line chart, in data units."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str = PALETTE[0]
    dashed: bool = False
    points: bool = False  # draw a dot at each point (calibration bins)


@dataclass(frozen=True)
class Marker:
    """A labelled point (the chosen threshold on a curve) or, with ``y=None``, a vertical rule."""

    label: str
    x: float
    y: float | None = None
    color: str = "#d62728"


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:,.0f}"


def nice_ceiling(value: float) -> float:
    """A round axis top at or above ``value`` whose quarters are round too (grid lines)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(
        power * step
        for step in (1, 1.2, 1.6, 2, 3, 4, 5, 6, 8, 10)
        if power * step >= value * 0.9999
    )


class _Frame:
    """Maps data coordinates to the plot area and draws the axes."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        self.left, self.top = MARGIN["left"], MARGIN["top"]
        self.right, self.bottom = WIDTH - MARGIN["right"], HEIGHT - MARGIN["bottom"]

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (value - self.x0) / span * (self.right - self.left)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.bottom - (value - self.y0) / span * (self.bottom - self.top)

    def axes(self, x_label: str, y_label: str, x_ticks: bool = True) -> list[str]:
        parts = [
            f'<line x1="{self.left}" y1="{self.bottom}" x2="{self.right}" y2="{self.bottom}" '
            'stroke="#333"/>',
            f'<line x1="{self.left}" y1="{self.top}" x2="{self.left}" y2="{self.bottom}" '
            'stroke="#333"/>',
        ]
        for i in range(5):
            value = self.y0 + (self.y1 - self.y0) * i / 4
            y = self.y(value)
            parts.append(
                f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.right}" y2="{y:.1f}" '
                'stroke="#e5e5e5"/>'
                f'<text x="{self.left - 5}" y="{y + 4:.1f}" text-anchor="end">'
                f"{_number(value)}</text>"
            )
            if x_ticks:
                value = self.x0 + (self.x1 - self.x0) * i / 4
                parts.append(
                    f'<text x="{self.x(value):.1f}" y="{self.bottom + 15}" text-anchor="middle">'
                    f"{_number(value)}</text>"
                )
        parts.append(
            f'<text x="{(self.left + self.right) / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{html.escape(x_label)}</text>"
            f'<text transform="translate(12 {(self.top + self.bottom) / 2}) rotate(-90)" '
            f'text-anchor="middle">{html.escape(y_label)}</text>'
        )
        return parts


def _svg(
    title: str, parts: list[str], legend: Sequence[tuple[str, str]] = (), height: int = HEIGHT
) -> str:
    x = MARGIN["left"]
    for name, color in legend:
        parts.append(
            f'<rect x="{x}" y="8" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="17">{html.escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="11" '
        f'font-family="sans-serif"><title>{html.escape(title)}</title>{"".join(parts)}</svg>'
    )


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float] = (0.0, 1.0),
    y_range: tuple[float, float] = (0.0, 1.0),
    markers: Sequence[Marker] = (),
) -> str:
    """Lines over a fixed data range (curves of rates live in [0, 1] × [0, 1])."""
    frame = _Frame(x_range, y_range)
    parts = frame.axes(x_label, y_label)
    for line in series:
        points = " ".join(
            f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in zip(line.xs, line.ys, strict=True)
        )
        dash = ' stroke-dasharray="4 3"' if line.dashed else ""
        parts.append(
            f'<polyline fill="none" stroke="{line.color}" stroke-width="2"{dash} '
            f'points="{points}"/>'
        )
        if line.points:
            parts.extend(
                f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3.5" fill="{line.color}"/>'
                for x, y in zip(line.xs, line.ys, strict=True)
            )
    for marker in markers:
        x = frame.x(marker.x)
        if marker.y is None:
            parts.append(
                f'<line x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" y2="{frame.bottom}" '
                f'stroke="{marker.color}" stroke-dasharray="2 2"/>'
                f'<text x="{x + 4:.1f}" y="{frame.top + 12}" fill="{marker.color}">'
                f"{html.escape(marker.label)}</text>"
            )
        else:
            y = frame.y(marker.y)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="none" stroke="{marker.color}" '
                f'stroke-width="2"/><text x="{x + 7:.1f}" y="{y + 14:.1f}" '
                f'fill="{marker.color}">{html.escape(marker.label)}</text>'
            )
    legend = [(s.name, s.color) for s in series if s.name]
    return _svg(title, parts, legend)


def grouped_bars(
    title: str, categories: Sequence[str], groups: dict[str, Sequence[float]], *, y_label: str
) -> str:
    """One group of bars per category, one bar per group (reference and current shares)."""
    top = max((v for values in groups.values() for v in values), default=0.0) or 1.0
    frame = _Frame((0, max(len(categories), 1)), (0, nice_ceiling(top)))
    parts = frame.axes("", y_label, x_ticks=False)
    slot = (frame.right - frame.left) / max(len(categories), 1)
    width = slot * 0.8 / max(len(groups), 1)
    colors = dict(zip(groups, PALETTE, strict=False))
    for i, category in enumerate(categories):
        for j, (name, values) in enumerate(groups.items()):
            x = frame.left + i * slot + slot * 0.1 + j * width
            y = frame.y(values[i])
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{frame.bottom - y:.1f}" fill="{colors[name]}"/>'
            )
        parts.append(
            f'<text x="{frame.left + (i + 0.5) * slot:.1f}" y="{frame.bottom + 15}" '
            f'text-anchor="middle">{html.escape(category)}</text>'
        )
    return _svg(title, parts, list(colors.items()))


def histogram(
    title: str, edges: Sequence[float], groups: dict[str, Sequence[float]], *, x_label: str
) -> str:
    """Shares per bin over numeric ``edges``: the first group filled, the others as outlines."""
    top = max((v for values in groups.values() for v in values), default=0.0) or 1.0
    frame = _Frame((edges[0], edges[-1]), (0, nice_ceiling(top)))
    parts = frame.axes(x_label, "share of rows")
    colors = dict(zip(groups, (REFERENCE_COLOR, CURRENT_COLOR, *PALETTE[2:]), strict=False))
    for k, (name, shares) in enumerate(groups.items()):
        if k == 0:
            parts.extend(
                f'<rect x="{frame.x(lo):.1f}" y="{frame.y(share):.1f}" '
                f'width="{max(frame.x(hi) - frame.x(lo) - 1, 0.5):.1f}" '
                f'height="{frame.bottom - frame.y(share):.1f}" fill="{colors[name]}" '
                'fill-opacity="0.55"/>'
                for lo, hi, share in zip(edges[:-1], edges[1:], shares, strict=True)
            )
        else:
            steps = [f"{frame.x(edges[0]):.1f},{frame.bottom}"]
            for lo, hi, share in zip(edges[:-1], edges[1:], shares, strict=True):
                steps.append(f"{frame.x(lo):.1f},{frame.y(share):.1f}")
                steps.append(f"{frame.x(hi):.1f},{frame.y(share):.1f}")
            steps.append(f"{frame.x(edges[-1]):.1f},{frame.bottom}")
            parts.append(
                f'<polyline fill="none" stroke="{colors[name]}" stroke-width="2" '
                f'points="{" ".join(steps)}"/>'
            )
    return _svg(title, parts, list(colors.items()))


def horizontal_bars(
    title: str, labels: Sequence[str], values: Sequence[float], value_format: str = ".3f"
) -> str:
    """Labelled horizontal bars, largest first (feature importance)."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    top = max(values, default=0.0) or 1.0
    row = 22
    height = MARGIN["top"] + row * len(values) + 10
    parts = []
    for rank, i in enumerate(order):
        y = MARGIN["top"] + rank * row
        width = (WIDTH - 200) * values[i] / top
        parts.append(
            f'<text x="110" y="{y + 14}" text-anchor="end">{html.escape(labels[i])}</text>'
            f'<rect x="116" y="{y + 3}" width="{width:.1f}" height="{row - 6}" '
            f'fill="{PALETTE[0]}"/><text x="{120 + width:.1f}" y="{y + 14}">'
            f"{values[i]:{value_format}}</text>"
        )
    return _svg(title, parts, height=height)
