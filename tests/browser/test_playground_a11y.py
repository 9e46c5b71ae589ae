"""Accessibility (axe-core) and themes of the playground in a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import Browsing
from tests.browser.test_playground_form import finish

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")


def serious_violations(page: Any) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


def exercise(pg: Browsing, theme: str) -> list[str]:
    """Open the main screens with content in them and scan each one."""
    found: list[str] = []
    page = pg.open("/joke")
    page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("axe")
    page.get_by_test_id("pg-run-events").click()
    finish(page)
    found += serious_violations(page)
    pg.shot(f"a11y_joke_{theme}")
    page = pg.open("/kitchen")
    found += serious_violations(page)
    page = pg.open("/chat")
    page.get_by_test_id("pg-chat-input").fill("hello")
    page.get_by_test_id("pg-chat-send").click()
    finish(page)
    found += serious_violations(page)
    pg.shot(f"a11y_chat_{theme}")
    page = pg.open("/error")
    page.get_by_test_id("pg-input").get_by_role("textbox").fill("x")
    page.get_by_test_id("pg-run-stream").click()
    finish(page, "error")
    found += serious_violations(page)
    return found


def test_axe_finds_nothing_serious_in_light_theme(pg: Browsing) -> None:
    assert exercise(pg, "light") == []


def test_axe_finds_nothing_serious_in_dark_theme(pg_dark: Browsing) -> None:
    page = pg_dark.open("/joke")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 18, 22)"
    expect(page.get_by_test_id("pg-theme-toggle")).to_have_attribute("aria-pressed", "true")
    assert exercise(pg_dark, "dark") == []


def test_theme_toggle_is_saved_across_reloads(pg: Browsing) -> None:
    page = pg.open("/joke")
    toggle = page.get_by_test_id("pg-theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.reload()
    page.get_by_test_id("pg-ready").wait_for(state="attached")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    expect(page.get_by_test_id("pg-theme-toggle")).to_have_attribute("aria-pressed", "true")
    pg.shot("dark_by_toggle")
