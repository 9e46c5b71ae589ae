"""Batch mode of the form playground in a real Chromium."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Browsing
from tests.browser.test_playground_form import copied, finish, record_posts

pytestmark = pytest.mark.browser


def test_batch_sends_the_collected_inputs_and_shows_one_result_each(pg: Browsing) -> None:
    page = pg.open("/html")
    posts = record_posts(page)
    text = page.get_by_test_id("pg-input").get_by_role("textbox", name="Text")
    run_batch = page.get_by_test_id("pg-run-batch")
    expect(run_batch).to_be_disabled()  # nothing collected yet
    for word in ("one", "two", "three"):
        text.fill(word)
        page.get_by_test_id("pg-batch-add").click()
    items = page.get_by_test_id("pg-batch-item")
    expect(items).to_have_count(3)
    page.get_by_role("button", name="Remove batch input 2").click()
    expect(items).to_contain_text(['{"text":"one"}', '{"text":"three"}'])
    text.fill("only in the form")

    run_batch.click()
    finish(page)
    assert [body for name, body in posts if name == "batch"] == [
        {"inputs": [{"text": "one"}, {"text": "three"}], "config": {}}
    ]
    results = page.get_by_test_id("pg-batch-result")
    expect(results).to_have_count(2)
    expect(results.nth(0)).to_contain_text("You typed: one")
    expect(results.nth(1)).to_contain_text("You typed: three")
    expect(results.nth(0).get_by_role("link", name="a link")).to_be_visible()  # Markdown
    assert page.title() != "pwned"
    assert page.locator("img").count() == 0
    page.get_by_test_id("pg-copy-output").click()
    outputs = json.loads(copied(page))
    assert [o.rsplit(": ", 1)[-1] for o in outputs] == ["one", "three"]
    expect(run_batch).to_have_text("Batch (2)")
    expect(run_batch).to_be_enabled()
    pg.shot("batch_results")

    # A single run afterwards shows a single output again, from the form.
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(results).to_have_count(0)
    expect(page.get_by_test_id("pg-output")).to_contain_text("You typed: only in the form")


def test_batch_failure_is_shown_in_the_alert(pg: Browsing) -> None:
    page = pg.open("/error")
    page.get_by_test_id("pg-input").get_by_role("textbox").fill("x")
    page.get_by_test_id("pg-batch-add").click()
    # Chromium logs every non-2xx fetch response; this one is the point of the test.
    pg.allow(r"status of 500")
    page.get_by_test_id("pg-run-batch").click()
    finish(page, "error")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("HTTP 500")
    expect(alert).to_contain_text("deliberate failure")
    expect(page.get_by_test_id("pg-batch-result")).to_have_count(0)
