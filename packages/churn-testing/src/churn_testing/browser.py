"""Open a local page in headless Chromium and report what a person would see: the page's text,
its console errors, the requests it tried to send off the machine, and a screenshot.

For tests of generated HTML (the drift summary, the training report) and of anything served on
loopback. It drives Debian's ``chromium`` (``.ci/system-deps`` installs it) through Playwright's
Python package; Playwright's own browser download is never used. Every call starts a fresh
browser with a new, empty profile.

Imported as ``churn_testing.browser`` (not from the package root) so that suites without a
browser test never import Playwright.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# What a test browser must not do: talk to Google's services, update itself, use QUIC or a GPU.
# --headless comes from Playwright (headless=True); the profile is a new --user-data-dir per call.
CHROMIUM_FLAGS = (
    "--no-sandbox",  # containers and CI run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
REPO = Path(__file__).resolve().parents[4]  # packages/churn-testing/src/churn_testing/


@dataclass(frozen=True)
class PageReport:
    url: str
    title: str
    text: str  # document.body.innerText after load
    screenshot: Path
    console_errors: list[str] = field(default_factory=list)  # console.error and uncaught errors
    external_requests: list[str] = field(default_factory=list)  # blocked: not local, not loopback


def chromium_path() -> str | None:
    """$CHROMIUM if set, else Debian's ``chromium`` on PATH."""
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def require_chromium() -> str:
    """Chromium's path; without it the test skips, or fails when CHURN_REQUIRE_BROWSER=1 (set
    by .ci/run: there the browser tests must run)."""
    found = chromium_path()
    if found is None:
        reason = "chromium not installed (Debian package chromium; .ci/system-deps installs it)"
        if os.environ.get("CHURN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CHURN_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return found


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOOPBACK_HOSTS


def open_page(
    target: str | Path,
    screenshot: Path,
    *,
    width: int = 1280,
    height: int = 900,
    timeout_s: float = 30,
    full_page: bool = True,
) -> PageReport:
    """Load ``target`` (a file path or a URL) in a fresh headless Chromium, wait until the
    network is idle, and save a PNG to ``screenshot`` (outside the repository: screenshots
    are generated artifacts) of the whole page, or with ``full_page=False`` of the viewport.
    Requests to anything but local files and loopback are blocked and listed in the report, so
    a page that needs the internet shows it."""
    from playwright.sync_api import Route, sync_playwright

    screenshot = screenshot.resolve()
    if screenshot.is_relative_to(REPO):
        raise ValueError(f"{screenshot}: write screenshots outside the repository")
    url = target.resolve().as_uri() if isinstance(target, Path) else target
    errors: list[str] = []
    external: list[str] = []

    def route(r: Route) -> None:
        if is_local(r.request.url):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort("blockedbyclient")

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=require_chromium(),
            headless=True,
            args=list(CHROMIUM_FLAGS),
            viewport={"width": width, "height": height},
        )
        try:
            context.set_default_timeout(timeout_s * 1000)
            context.route("**/*", route)
            page = context.new_page()
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
            page.goto(url, wait_until="load")
            page.wait_for_load_state("networkidle")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=full_page)
            title = page.title()
            text = page.inner_text("body")
        finally:
            context.close()
    return PageReport(
        url=url,
        title=title,
        text=text,
        screenshot=screenshot,
        console_errors=errors,
        external_requests=external,
    )
