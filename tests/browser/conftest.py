"""Fixtures for the playground browser tests: one uvicorn server for the session, one
Debian Chromium (driven by Playwright through `executable_path`) per module, a fresh
browser context per test, and a check that no test saw a console error, a
page error or a request to another origin.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ROOT, run_uvicorn

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The flags found to work on this machine kind (no sandbox as root,
# no attempts to reach Google services on the closed network).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts" / "playground"
TIMEOUT_MS = 10_000


def _unavailable(reason: str) -> None:
    # In CI the browser suite must run: a missing browser is a failure, not a skip.
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: scripts/install-browser must install it)")
    pytest.skip(f"{reason}; run scripts/install-browser")


# Module scope, not session: Playwright's sync API keeps an asyncio loop marked as
# running while it is alive, which would break the anyio tests collected after these.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (test extra)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with run_uvicorn("tests.browser.apps:app", log_path=ARTIFACTS / "server.log") as url:
        yield url


PROXY_PREFIX = "/proxied"


@pytest.fixture(scope="session")
def proxied() -> Iterator[str]:
    """The test app behind a path-rewriting proxy: `{url}/proxied/x` reaches the app's `/x`.

    The backend knows the prefix only from uvicorn's `--root-path`.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (
        run_uvicorn(
            "tests.browser.apps:app",
            extra_args=["--root-path", PROXY_PREFIX],
            log_path=ARTIFACTS / "proxied_backend.log",
        ) as backend,
        run_uvicorn(
            "tests.browser.proxy:app",
            env={"PROXY_BACKEND": backend, "PROXY_PREFIX": PROXY_PREFIX},
            extra_args=["--lifespan", "off"],
            log_path=ARTIFACTS / "proxy.log",
        ) as proxy,
    ):
        yield proxy


@dataclass
class Browsing:
    """A page plus what it logged; `allow(...)` names console errors a test expects."""

    page: Any
    origin: str
    problems: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(pattern)

    def open(self, route: str, suffix: str = "") -> Any:
        """Open `{route}/playground/{suffix}` and wait until the app says it is ready."""
        self.page.goto(f"{self.origin}{route}/playground/{suffix}")
        self.page.get_by_test_id("pg-ready").wait_for(state="attached")
        return self.page

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(re.search(a, p) for a in self.allowed)]


def new_browsing(browser: Any, origin: str, color_scheme: str = "light") -> Browsing:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        color_scheme=color_scheme,
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    browsing = Browsing(page=page, origin=origin)
    problems = browsing.problems
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console.{msg.type}: {msg.text}")
            if msg.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))

    def check_origin(request: Any) -> None:
        url = request.url
        if not url.startswith((origin, "data:", "blob:", "about:")):
            problems.append(f"request to another origin: {url}")

    page.on("request", check_origin)
    return browsing


@contextlib.contextmanager
def browsing_at(browser: Any, origin: str, color_scheme: str = "light") -> Iterator[Browsing]:
    """A fresh context on `origin`; on exit, fail if the page logged anything unexpected."""
    browsing = new_browsing(browser, origin, color_scheme=color_scheme)
    try:
        yield browsing
    finally:
        browsing.page.context.close()
    assert browsing.unexpected() == []


@pytest.fixture
def pg(browser: Any, server: str) -> Iterator[Browsing]:
    with browsing_at(browser, server) as browsing:
        yield browsing


@pytest.fixture
def pg_dark(browser: Any, server: str) -> Iterator[Browsing]:
    with browsing_at(browser, server, color_scheme="dark") as browsing:
        yield browsing
