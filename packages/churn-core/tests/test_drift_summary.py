"""The drift summary page: written next to the JSON by default, every feature's decision and
distributions, prediction drift and data quality, escaped text, nothing fetched — checked on
the markup and, in headless Chromium, as a person sees it."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from churn_core import drift
from churn_core.cli import main
from churn_core.data import columns_of, generate, write_frame
from churn_core.schema import FEATURE_NAMES


class _Cells(HTMLParser):
    """Table rows (as lists of cell texts), figure captions and tag counts of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.captions: list[str] = []
        self.tags: dict[str, int] = {}
        self._cell: list[str] | None = None
        self._caption = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "figcaption":
            self._caption = True
            self.captions.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "figcaption":
            self._caption = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._caption:
            self.captions[-1] += data


def parse(document: str) -> _Cells:
    parser = _Cells()
    parser.feed(document)
    return parser


@pytest.fixture(scope="module")
def run(bundle_dir: Path, predictor, tmp_path_factory) -> dict:
    """A drifted batch with the model's probabilities, checked against the bundle's reference
    through the command line, as the drift job does."""
    root = tmp_path_factory.mktemp("drift-summary")
    frame = generate(3_000, seed=5, drift=0.4)[list(FEATURE_NAMES)]
    frame["churn_probability"] = predictor.predict_proba(columns_of(frame))
    write_frame(frame, root / "current.csv")
    report_path = root / "out" / "drift.json"
    report_path.parent.mkdir()
    sources = ["--reference", str(bundle_dir), "--current", str(root / "current.csv")]
    code = main(["drift", *sources, "--json", str(report_path)])
    return {"code": code, "report": json.loads(report_path.read_text()), "dir": report_path.parent}


def test_the_page_is_written_next_to_the_json_by_default(run: dict) -> None:
    assert run["code"] == 1
    assert sorted(p.name for p in run["dir"].iterdir()) == ["drift.json", "drift.summary.html"]
    assert drift.summary_path_for(run["dir"] / "drift.json") == run["dir"] / "drift.summary.html"


def test_every_feature_has_its_decision_and_its_picture(run: dict) -> None:
    report = run["report"]
    page = parse((run["dir"] / "drift.summary.html").read_text())
    by_feature = {row[0]: row for row in page.rows if row and row[0] in FEATURE_NAMES}
    assert set(by_feature) == set(FEATURE_NAMES)
    for name, result in report["features"].items():
        decision = by_feature[name][-1]
        assert decision.startswith("DRIFTED") == result["drifted"], (name, decision)
        assert by_feature[name][5] == f"{result['psi']:.4f}"
    assert {"Age", "Balance", "Geography"} <= set(report["drifted_features"])
    for name in FEATURE_NAMES:  # one chart per feature, captioned with its decision
        [caption] = [c for c in page.captions if c.startswith(f"{name} — ")]
        assert ("drifted" in caption) == report["features"][name]["drifted"]
    assert page.tags["svg"] == len(FEATURE_NAMES) + 1  # + the prediction histogram
    [prediction] = [row for row in page.rows if row and row[0] == "churn_probability"]
    assert prediction[1] == f"{report['prediction']['mean']['reference']:.4f}"
    assert any(row[:2] == ["invalid-row share", "0.00% (limit 1%): ok"] for row in page.rows)


def test_histograms_cover_every_row_even_the_outliers() -> None:
    reference = generate(2_000, seed=1)[list(FEATURE_NAMES)]
    current = generate(2_000, seed=2)[list(FEATURE_NAMES)]
    current.loc[0, "EstimatedSalary"] = 1e9  # one extreme salary lands in the last bin
    report = drift.compare(reference, current)
    for result in report["features"].values():
        shares = result["histogram"] if result["kind"] == "numeric" else None
        if shares is None:
            assert "shares" in result
            continue
        assert len(shares["edges"]) == len(shares["reference"]) + 1 == 21
        assert sum(shares["reference"]) == pytest.approx(1.0)
        assert sum(shares["current"]) == pytest.approx(1.0)
    salary = report["features"]["EstimatedSalary"]["histogram"]
    assert salary["edges"][-1] < 1e6  # the range ignores the outlier...
    assert salary["current"][-1] >= 1 / 2_000  # ...which is still counted


def test_text_from_files_is_escaped_and_nothing_is_fetched(run: dict) -> None:
    report = json.loads(json.dumps(run["report"]))
    report["current"]["source"] = "<script>alert('x')</script>"
    report["data_quality"]["failures"] = [
        {"row": 3, "field": "Geography", "value": "<img src=x onerror=alert(1)>", "check": "isin"}
    ]
    document = drift.summary_page(report)
    assert "<script" not in document and "<img" not in document
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in document
    assert "&lt;img src=x onerror=alert(1)&gt;" in document
    assert not re.search(r"<[^>]*\b(src|href)=", document)  # no tag loads anything
    # The only URL is the SVG namespace, an identifier no browser fetches.
    assert set(re.findall(r"https?://[^\"' ]+", document)) == {"http://www.w3.org/2000/svg"}


def test_a_report_without_histograms_still_renders(run: dict) -> None:
    report = json.loads(json.dumps(run["report"]))
    for result in report["features"].values():
        result.pop("histogram", None)
    report["prediction"] = None
    page = parse(drift.summary_page(report))
    assert page.tags["svg"] == 6  # the six discrete features keep their bars
    assert {row[0] for row in page.rows if row} >= set(FEATURE_NAMES)


@pytest.mark.parametrize(
    ("options", "written"),
    [
        ([], []),  # no JSON file, no --summary: only the printed table
        (["--json", "-", "--summary", "page.html"], ["page.html"]),
        (["--json", "r.json", "--no-summary"], ["r.json"]),
        (["--json", "r.json", "--summary", "elsewhere/s.html"], ["elsewhere/s.html", "r.json"]),
    ],
)
def test_where_the_page_goes(bundle_dir, tmp_path, monkeypatch, options, written) -> None:
    current = tmp_path / "in" / "current.csv"
    current.parent.mkdir()
    write_frame(generate(500, seed=9), current)
    monkeypatch.chdir(tmp_path)
    main(["drift", "--reference", str(bundle_dir), "--current", str(current), *options])
    found = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert found == sorted(["in/current.csv", *written])


def test_the_page_in_chromium(run: dict, tmp_path: Path) -> None:
    from churn_testing.browser import open_page

    report = run["report"]
    seen = open_page(run["dir"] / "drift.summary.html", tmp_path / "drift-summary.png")
    assert seen.console_errors == []
    assert seen.external_requests == []
    assert seen.title == "Drift summary — drift"
    assert (
        "Drift detected — drifted features: " + ", ".join(report["drifted_features"]) in seen.text
    )
    lines = seen.text.splitlines()
    for name in FEATURE_NAMES:  # the table row and the chart caption, as rendered
        assert any(line.startswith(f"{name}\t") for line in lines), name
        assert any(line.startswith(f"{name} — ") for line in lines), name
    assert "Predicted churn probability" in seen.text
    assert seen.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
