"""The playground's code snippets are real requests: each test copies them out of the
page for one kind of route and runs them (curl, Python, Node) against the server.
Also the small UI contract around them: the theme button, the JSON toggles and the
share link."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Browsing
from tests.browser.test_playground_form import copied, finish, record_posts
from tests.servers import ROOT

pytestmark = pytest.mark.browser

LANGUAGES = ("curl", "python", "js")


def snippet(page: Any, language: str) -> str:
    return str(page.get_by_test_id(f"pg-snippet-{language}").text_content())


def run_curl(code: str, tmp_path: Path) -> str:
    done = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    # The invoke answer (one JSON document) comes first, then the stream's events.
    answer, end = json.JSONDecoder().raw_decode(done.stdout)
    assert "output" in answer
    events = done.stdout[end:]
    assert "event: end" in events
    assert "event: error" not in events
    return done.stdout


def run_python(code: str, tmp_path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_js(code: str, tmp_path: Path) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the JavaScript snippet is not run")
    script = tmp_path / "snippet.mjs"
    script.write_text(code)
    done = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


RUNNERS: dict[str, Callable[[str, Path], str]] = {
    "curl": run_curl,
    "python": run_python,
    "js": run_js,
}


def fill_topic(text: str) -> Callable[[Any], None]:
    def fill(page: Any) -> None:
        page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic", exact=True).fill(text)

    return fill


def fill_root_text(page: Any) -> None:
    page.get_by_test_id("pg-input").get_by_role("textbox").fill('it\'s <quoted> "text"')


def leave_empty(page: Any) -> None:
    """The free-form dict route's form is run as it opens."""


def pirate_rum(page: Any) -> None:
    page.get_by_test_id("pg-config").get_by_role("combobox", name="Style").select_option(
        label="pirate"
    )
    fill_topic("rum")(page)


def chat_turn(page: Any) -> None:
    page.get_by_test_id("pg-chat-input").fill("hello")
    page.get_by_test_id("pg-chat-send").click()
    finish(page)


# (route, how to fill the page, text every snippet's output must contain)
ROUTES = [
    pytest.param("/joke", fill_topic("cats"), "hello world this is a joke", id="object-input"),
    pytest.param("/free", leave_empty, "keys", id="free-form-dict"),
    pytest.param("/documents", fill_root_text, "<quoted>", id="root-string-with-quotes"),
    pytest.param("/configurable", pirate_rum, "arr, a pirate joke about rum", id="with-config"),
    pytest.param("/graph", fill_topic("cats"), "A DRAFT ABOUT CATS", id="langgraph"),
    pytest.param("/chat", chat_turn, "You said: hello", id="chat"),
]


@pytest.mark.parametrize(("route", "fill", "expected"), ROUTES)
def test_snippets_run_as_valid_requests_for_the_route(
    pg: Browsing, tmp_path: Path, route: str, fill: Callable[[Any], None], expected: str
) -> None:
    page = pg.open(route)
    fill(page)
    for language in LANGUAGES:
        code = snippet(page, language)
        assert f"{pg.origin}{route}" in code
        output = RUNNERS[language](code, tmp_path)
        assert expected in output, f"{language} snippet printed {output!r}"


def test_free_form_dict_route_runs_from_the_empty_form(pg: Browsing) -> None:
    page = pg.open("/free")
    posts = record_posts(page)
    page.get_by_test_id("pg-run-stream").click()
    finish(page)
    assert posts[-1] == ("stream", {"input": {}, "config": {}})
    expect(page.get_by_test_id("pg-output")).to_contain_text("keys")
    page.get_by_test_id("pg-input").get_by_role("textbox").fill('{"b": 1, "a": 2}')
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    assert posts[-1] == ("invoke", {"input": {"b": 1, "a": 2}, "config": {}})
    page.get_by_test_id("pg-copy-output").click()
    assert json.loads(copied(page)) == {"keys": ["a", "b"]}


def test_snippet_element_holds_exactly_the_code_the_copy_button_copies(pg: Browsing) -> None:
    page = pg.open("/joke")
    fill_topic("cats")(page)
    for language, title in (("curl", "curl"), ("python", "Python"), ("js", "JavaScript")):
        page.get_by_role("button", name=f"Copy {title} snippet").click()
        code = copied(page)
        assert snippet(page, language) == code
        assert "Copy" not in code.splitlines()[0]
        assert not code.startswith(title)


def test_long_snippet_says_it_scrolls_and_short_one_does_not(pg: Browsing) -> None:
    page = pg.open("/free")
    hints = page.locator(".scroll-hint")
    expect(hints.filter(visible=True)).to_have_count(0)
    many_keys = json.dumps({f"key_{i}": i for i in range(40)})
    page.get_by_test_id("pg-input").get_by_role("textbox").fill(many_keys)
    python_hint = page.get_by_test_id("pg-snippet-python").locator("xpath=following-sibling::p")
    expect(python_hint).to_be_visible()
    expect(python_hint).to_contain_text("Scroll inside the box")
    pg.shot("snippets_scroll_hint")


def test_share_link_box_shows_the_current_link_before_any_click(pg: Browsing) -> None:
    page = pg.open("/joke")
    box = page.get_by_role("textbox", name="Share link")
    expect(box).to_have_value(
        f"{pg.origin}/joke/playground/#s=eyJpbnB1dCI6eyJ0b3BpYyI6IiJ9LCJjb25maWciOnt9fQ"
    )
    fill_topic("cats")(page)
    expect(box).not_to_have_value(
        f"{pg.origin}/joke/playground/#s=eyJpbnB1dCI6eyJ0b3BpYyI6IiJ9LCJjb25maWciOnt9fQ"
    )
    page.goto(box.input_value())
    page.get_by_test_id("pg-ready").wait_for(state="attached")
    expect(page.get_by_role("textbox", name="Topic", exact=True)).to_have_value("cats")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_theme_button_shows_which_theme_is_on(browser: Any, server: str, scheme: str) -> None:
    from tests.browser.conftest import browsing_at

    with browsing_at(browser, server, color_scheme=scheme) as pg:
        page = pg.open("/joke")
        toggle = page.get_by_role("button", name="Dark theme", exact=True)
        dark = scheme == "dark"
        expect(toggle).to_have_text(f"Dark theme: {'on' if dark else 'off'}")
        expect(toggle).to_have_attribute("aria-pressed", str(dark).lower())
        pg.shot(f"theme_{scheme}_before_toggle")
        toggle.click()
        expect(toggle).to_have_text(f"Dark theme: {'off' if dark else 'on'}")
        expect(toggle).to_have_attribute("aria-pressed", str(not dark).lower())


def test_whole_input_and_field_json_toggles_say_which_is_which(pg: Browsing) -> None:
    page = pg.open("/joke")
    form = page.get_by_test_id("pg-input")
    whole = form.get_by_role("button", name="Edit whole input as JSON")
    field = form.get_by_role("button", name="Edit Topic as JSON")
    expect(whole).to_have_text("Whole input as JSON")
    expect(field).to_have_text("JSON")
    whole.click()
    expect(whole).to_have_attribute("aria-pressed", "true")
    expect(form.get_by_role("textbox", name="Input (JSON)")).to_be_visible()
    # A nested group's toggle is in its legend, beside the group's name.
    page = pg.open("/kitchen")
    legend = page.get_by_test_id("pg-input").locator("legend", has_text="Ratio")
    expect(legend.get_by_role("button", name="Edit Ratio as JSON")).to_be_visible()
