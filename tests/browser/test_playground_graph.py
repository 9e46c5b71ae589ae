"""A LangGraph graph's playground in a real Chromium: the state-key form and the
per-node updates shown as they stream."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Browsing
from tests.browser.test_playground_form import finish, record_posts

pytestmark = pytest.mark.browser


def test_graph_form_sends_only_the_filled_state_key_and_shows_node_updates_while_streaming(
    pg: Browsing,
) -> None:
    page = pg.open("/graph_gated")
    posts = record_posts(page)
    inputs = page.get_by_test_id("pg-input")
    for key in ("Topic", "Draft", "Final"):
        expect(inputs.get_by_role("textbox", name=key, exact=True)).to_be_visible()
    inputs.get_by_role("textbox", name="Topic", exact=True).fill("cats")
    page.get_by_test_id("pg-run-stream").click()

    # The second node is held on the server: the first node's update is on the page
    # while the run is still streaming.
    steps = page.get_by_test_id("pg-graph-step")
    expect(steps).to_have_count(1)
    expect(steps.first).to_have_attribute("data-node", "write")
    expect(steps.first).to_contain_text("a draft about cats")
    expect(page.get_by_test_id("pg-status")).to_have_attribute("data-status", "running")
    pg.shot("graph_streaming")
    httpx.post(f"{pg.origin}/_test/polish_gate").raise_for_status()

    finish(page)
    expect(steps).to_have_count(2)
    expect(steps.nth(1)).to_have_attribute("data-node", "polish")
    expect(steps.nth(1)).to_contain_text("A DRAFT ABOUT CATS")
    # Only the filled key is sent: no state key is forced on the caller.
    assert posts[-1] == ("stream", {"input": {"topic": "cats"}, "config": {}})
    pg.shot("graph_done")


def test_graph_invoke_shows_the_final_state(pg: Browsing) -> None:
    page = pg.open("/graph")
    page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic", exact=True).fill("owls")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(page.get_by_test_id("pg-graph-step")).to_have_count(0)
    output = page.get_by_test_id("pg-output")
    expect(output).to_contain_text("a draft about owls")
    expect(output).to_contain_text("A DRAFT ABOUT OWLS")
