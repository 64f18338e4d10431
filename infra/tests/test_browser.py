"""The headless-Chromium helper (churn_testing.browser) against pages whose faults are known: it
reports console errors, uncaught exceptions and off-machine requests, reads the text and
saves a PNG."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from churn_testing.browser import REPO, open_page, require_chromium

CLEAN = """<!doctype html>
<html><head><meta charset="utf-8"><title>Clean page</title>
<style>body { font-family: sans-serif } .bar { background: #c33; height: 20px }</style></head>
<body><h1>Drift summary</h1>
<table><tr><th>feature</th><th>decision</th></tr><tr><td>Age</td><td>drifted</td></tr></table>
<div class="bar" style="width: 240px"></div>
<p id="filled"></p>
<script>document.getElementById("filled").textContent = "rendered by script";</script>
</body></html>
"""

BROKEN = """<!doctype html>
<html><head><meta charset="utf-8"><title>Broken page</title>
<script src="https://cdn.example.invalid/library.js"></script></head>
<body><p>still shows text</p><img src="missing.png" alt="">
<script>console.error("explicit failure"); undefinedFunction();</script>
</body></html>
"""


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    return require_chromium()


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", header[16:24])


def test_clean_local_file(tmp_path: Path) -> None:
    page = tmp_path / "clean.html"
    page.write_text(CLEAN)
    report = open_page(page, tmp_path / "shots" / "clean.png", width=800, height=600)
    assert report.title == "Clean page"
    assert report.console_errors == []
    assert report.external_requests == []
    for text in ("Drift summary", "Age", "drifted", "rendered by script"):
        assert text in report.text
    width, height = png_size(report.screenshot)
    assert width == 800 and height >= 600
    assert not report.screenshot.is_relative_to(REPO)


def test_faults_are_reported_and_the_internet_is_not_reached(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(BROKEN)
    report = open_page(page, tmp_path / "broken.png")
    assert "still shows text" in report.text
    assert report.external_requests == ["https://cdn.example.invalid/library.js"]
    errors = "\n".join(report.console_errors)
    assert "explicit failure" in errors
    assert "undefinedFunction" in errors  # the uncaught ReferenceError
    assert "Failed to load resource" in errors  # missing.png and the blocked script
    assert report.screenshot.stat().st_size > 0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text(CLEAN)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def test_page_served_on_loopback(served: str, tmp_path: Path) -> None:
    report = open_page(served, tmp_path / "served.png")
    assert report.url == served
    assert report.console_errors == []
    assert "rendered by script" in report.text


def test_screenshots_stay_out_of_the_repository(tmp_path: Path) -> None:
    page = tmp_path / "clean.html"
    page.write_text(CLEAN)
    with pytest.raises(ValueError, match="outside the repository"):
        open_page(page, REPO / "screenshot.png")
    assert not (REPO / "screenshot.png").exists()


def test_a_missing_chromium_fails_when_the_browser_is_required(monkeypatch) -> None:
    monkeypatch.setenv("CHROMIUM", "")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CHURN_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="CHURN_REQUIRE_BROWSER=1"):
        require_chromium()
    monkeypatch.delenv("CHURN_REQUIRE_BROWSER")
    with pytest.raises(pytest.skip.Exception, match="chromium not installed"):
        require_chromium()
