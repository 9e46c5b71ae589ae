"""The form playground in a real Chromium, through its data-testid contract."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from langserve_like.server.config import encode_config_hash
from tests.browser.conftest import Browsing

pytestmark = pytest.mark.browser


def finish(page: Any, status: str = "done") -> None:
    """Wait for the run to end in `status`; on a mismatch, say what the page showed."""
    try:
        expect(page.get_by_test_id("pg-status")).to_have_attribute("data-status", status)
    except AssertionError as exc:
        shown = page.get_by_test_id("pg-error").all_inner_texts()
        raise AssertionError(f"{exc}\nthe page's error box: {shown}") from None


def record_posts(page: Any) -> list[tuple[str, Any]]:
    posts: list[tuple[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            posts.append((r.url.rsplit("/", 1)[-1], json.loads(r.post_data)))
            if r.method == "POST"
            else None
        ),
    )
    return posts


def copied(page: Any) -> str:
    return str(page.evaluate("() => navigator.clipboard.readText()"))


def test_joke_streams_invokes_and_shows_the_events_timeline(pg: Browsing) -> None:
    page = pg.open("/joke")
    posts = record_posts(page)
    page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("cats")
    page.get_by_test_id("pg-run-stream").click()
    finish(page)
    output = page.get_by_test_id("pg-output")
    expect(output).to_contain_text("hello world this is a joke")
    expect(output).to_contain_text("11 out")  # usage_metadata of the streamed message
    expect(page.get_by_test_id("pg-timing")).to_contain_text("first chunk")
    pg.shot("joke_stream")

    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(output).to_contain_text("hello world this is a joke")

    page.get_by_test_id("pg-run-events").click()
    finish(page)
    rows = page.get_by_test_id("pg-events").get_by_test_id("pg-event-row")
    expect(rows.first).to_have_attribute("data-name", "/joke")
    prompt = page.locator("[data-testid=pg-event-row][data-name=ChatPromptTemplate]")
    expect(prompt).to_have_attribute("data-type", "prompt")
    model = page.locator("[data-testid=pg-event-row][data-type=chat_model]")
    expect(model).to_have_attribute("data-name", "ScriptedChatModel")
    expect(model).to_have_attribute("data-tokens", "11")
    expect(model).to_have_attribute("data-status", "done")
    assert float(model.get_attribute("data-ttft") or 0) > 0
    expect(output).to_contain_text("hello world this is a joke")
    pg.shot("joke_events")

    assert [name for name, _ in posts] == ["stream", "invoke", "stream_events"]
    assert all(body == {"input": {"topic": "cats"}, "config": {}} for _, body in posts)


def test_configurable_route_sends_only_changed_config_and_shares_it(pg: Browsing) -> None:
    page = pg.open("/configurable")
    config = page.get_by_test_id("pg-config")
    style = config.get_by_role("combobox", name="Style")
    selected = "s => s.options[s.selectedIndex].text"
    assert style.evaluate(selected) == "polite"  # the default that sits beside a $ref
    posts = record_posts(page)
    inputs = page.get_by_test_id("pg-input")
    inputs.get_by_role("textbox", name="Topic").fill("rum")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    assert posts[-1][1] == {"input": {"topic": "rum"}, "config": {}}

    # A new template changes the input schema: the form follows it, and only
    # the changed key is sent.
    config.get_by_role("textbox", name="Template", exact=True).fill("a limerick about {animal}")
    animal = inputs.get_by_role("textbox", name="Animal")
    animal.fill("a parrot")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text("a limerick about a parrot")
    changed = {"configurable": {"template": "a limerick about {animal}"}}
    assert posts[-1][1] == {"input": {"animal": "a parrot"}, "config": changed}
    pg.shot("configurable_done")

    page.get_by_test_id("pg-share").click()
    link = copied(page)
    assert "#s=" in link
    page.goto("about:blank")
    page.goto(link)
    page.get_by_test_id("pg-ready").wait_for(state="attached")
    expect(animal).to_have_value("a parrot")
    expect(config.get_by_role("textbox", name="Template", exact=True)).to_have_value(
        "a limerick about {animal}"
    )
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    assert posts[-1][1] == {"input": {"animal": "a parrot"}, "config": changed}
    pg.shot("configurable_from_share_link")

    style.select_option(label="pirate")
    inputs.get_by_role("textbox", name="Topic").fill("rum")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text("arr, a pirate joke about rum")
    assert posts[-1][1]["config"]["configurable"]["style"] == "pirate"


def test_documents_render_as_cards(pg: Browsing) -> None:
    page = pg.open("/documents")
    page.get_by_test_id("pg-input").get_by_role("textbox").fill("llamas")
    page.get_by_test_id("pg-run-stream").click()
    finish(page)
    cards = page.get_by_test_id("pg-output").get_by_test_id("pg-document")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("first doc about llamas")
    expect(cards.first).to_contain_text("rank")
    pg.shot("documents")


def test_errors_are_shown_with_the_server_message(pg: Browsing) -> None:
    page = pg.open("/error")
    page.get_by_test_id("pg-input").get_by_role("textbox").fill("x")
    page.get_by_test_id("pg-run-stream").click()
    finish(page, "error")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("deliberate failure")
    expect(alert).to_contain_text("<img src=x")  # shown as text, not markup
    expect(page.get_by_test_id("pg-output")).to_contain_text("partial output")
    pg.shot("error_stream")

    # Chromium logs every non-2xx fetch response; this one is the point of the test.
    pg.allow(r"status of 500")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page, "error")
    expect(alert).to_contain_text("HTTP 500")
    expect(alert).to_contain_text("deliberate failure")
    assert page.title() != "pwned"
    assert page.locator("img").count() == 0


def test_validation_error_from_the_server_names_the_field(pg: Browsing) -> None:
    page = pg.open("/kitchen")
    # Chromium logs every non-2xx fetch response; this one is the point of the test.
    pg.allow(r"status of 422")
    page.get_by_role("button", name="Edit whole input as JSON").click()
    page.get_by_test_id("pg-input").get_by_role("textbox").fill('{"title": "t", "count": "x"}')
    page.get_by_test_id("pg-run-invoke").click()
    finish(page, "error")
    expect(page.get_by_role("alert")).to_contain_text("HTTP 422")
    expect(page.get_by_role("alert")).to_contain_text("count")


def test_kitchen_sink_form_round_trips_to_the_request_body(pg: Browsing) -> None:
    page = pg.open("/kitchen")
    posts = record_posts(page)
    form = page.get_by_test_id("pg-input")
    form.get_by_role("textbox", name="Title", exact=True).fill("sink")
    form.get_by_role("spinbutton", name="Count").fill("7")
    form.get_by_role("combobox", name="Type of Ratio").select_option(label="Number")
    form.get_by_role("spinbutton", name="Ratio (Number)").fill("0.5")
    form.get_by_role("checkbox", name="Flag").check()
    form.get_by_role("combobox", name="Color").select_option("1")
    form.get_by_role("combobox", name="Type of Either").select_option(label="Text")
    form.get_by_role("textbox", name="Either (Text)").fill("two")
    form.get_by_role("button", name="Add Tags entry").click()
    form.get_by_role("textbox", name="Tags key 1").fill("a")
    form.get_by_role("spinbutton", name="Tags value 1").fill("1")
    form.get_by_role("button", name="Add Addresses item").click()
    form.get_by_role("textbox", name="City").fill("Lisbon")
    form.get_by_role("combobox", name="Type of Tree").select_option(label="Node")
    form.get_by_role("textbox", name="Name").fill("root")
    form.get_by_role("button", name="Add Children item").click()
    form.get_by_role("textbox", name="Name").nth(1).fill("leaf")
    pg.shot("kitchen_sink_form")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expected = {
        "title": "sink",
        "count": 7,
        "ratio": 0.5,
        "flag": True,
        "color": "green",
        "either": "two",
        "tags": {"a": 1},
        "addresses": [{"city": "Lisbon", "zip": None}],
        "home": None,
        "tree": {"name": "root", "children": [{"name": "leaf", "children": []}]},
    }
    assert posts[-1][1] == {"input": expected, "config": {}}
    page.get_by_test_id("pg-copy-output").click()
    assert json.loads(copied(page)) == expected


def test_odd_schema_falls_back_to_json(pg: Browsing) -> None:
    page = pg.open("/odd")
    form = page.get_by_test_id("pg-input")
    form.get_by_role("textbox", name="Payload").fill('{"any": ["json", 1]}')
    form.get_by_role("textbox", name="Mystery").fill('{"k": true}')
    posts = record_posts(page)
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    assert posts[-1][1]["input"] == {"payload": {"any": ["json", 1]}, "mystery": {"k": True}}

    form.get_by_role("textbox", name="Payload").fill("{not json")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page, "error")
    expect(page.get_by_role("alert")).to_contain_text("payload: invalid JSON")
    assert len(posts) == 1  # the client caught it; nothing was sent


def test_markup_in_descriptions_stays_text(pg: Browsing) -> None:
    page = pg.open("/kitchen")
    expect(page.get_by_text("A title </script><img", exact=False)).to_be_visible()
    assert page.locator("main img").count() == 0
    assert page.title() != "pwned"


def test_route_under_nested_router_prefix_runs(pg: Browsing) -> None:
    page = pg.open("/api/outer/inner/joke")
    posts = record_posts(page)
    page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("routers")
    page.get_by_test_id("pg-run-stream").click()
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text("hello world this is a joke")
    assert posts[-1][0] == "stream"
    pg.shot("nested_router")


def test_markup_in_schema_and_output_is_rendered_as_text(pg: Browsing) -> None:
    page = pg.open("/html")
    field = page.get_by_test_id("pg-input").get_by_role("textbox")
    expect(page.get_by_test_id("pg-input")).to_contain_text("Description </script><img src=x")
    field.fill("<b>not bold</b>")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    output = page.get_by_test_id("pg-output")
    expect(output).to_contain_text("</script><img src=x onerror=")
    expect(output).to_contain_text("You typed: <b>not bold</b>")
    expect(output.get_by_role("list")).to_contain_text("first item")  # safe Markdown
    expect(output.get_by_role("link", name="a link")).to_have_attribute(
        "href", "https://example.com/x"
    )
    assert output.locator("img, script, b").count() == 0
    assert page.title() != "pwned"
    pg.shot("markup_as_text")


def test_keyboard_only_run_and_escape_stops(pg: Browsing) -> None:
    page = pg.open("/slow")
    posts = record_posts(page)
    topic = page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic")
    for _ in range(10):
        page.keyboard.press("Tab")
        if topic.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.type("keys")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("pg-status")).to_have_attribute("data-status", "running")
    expect(page.get_by_test_id("pg-output")).to_contain_text("word word")
    page.keyboard.press("Escape")
    finish(page, "idle")
    expect(page.get_by_test_id("pg-timing")).to_contain_text("stopped")
    assert posts == [("stream", {"input": {"topic": "keys"}, "config": {}})]
    text = page.get_by_test_id("pg-output").inner_text()
    assert text.count("word") < 300


def test_disabled_stream_events_hides_events_and_falls_back(pg: Browsing) -> None:
    page = pg.open("/no_events")
    expect(page.get_by_test_id("pg-run-events")).to_have_count(0)
    # /batch is off too: no Batch mode (its controls are tested on /joke).
    expect(page.get_by_test_id("pg-run-batch")).to_have_count(0)
    expect(page.get_by_test_id("pg-batch-add")).to_have_count(0)
    page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("x")
    page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").press("Control+Enter")
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text("hello world this is a joke")


def test_base64file_widget_keeps_name_and_type_and_caps_size(pg: Browsing) -> None:
    page = pg.open("/file")
    upload = page.get_by_test_id("pg-input").get_by_label("Data", exact=True)
    upload.set_input_files(
        files=[{"name": "big.bin", "mimeType": "application/octet-stream", "buffer": b"x" * 2000}]
    )
    expect(page.get_by_test_id("pg-input").get_by_role("alert")).to_contain_text("limit is 1,000")
    upload.set_input_files(
        files=[{"name": "hello.txt", "mimeType": "text/plain", "buffer": b"hello from a browser"}]
    )
    expect(page.get_by_test_id("pg-input").get_by_role("textbox", name="Filename")).to_have_value(
        "hello.txt"
    )
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text(
        "hello.txt text/plain 20 bytes: hello from a browser"
    )
    pg.shot("file_widget")


def test_feedback_thumbs_post_to_the_sink(pg: Browsing) -> None:
    page = pg.open("/feedback")
    page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("x")
    page.get_by_test_id("pg-run-stream").click()
    finish(page)
    page.get_by_role("button", name="Good response").click()
    expect(page.get_by_text("Feedback sent.")).to_be_visible()
    received = httpx.get(f"{pg.origin}/_test/feedback", timeout=10).json()
    assert received[-1]["key"] == "correctness"
    assert received[-1]["score"] == 1
    assert received[-1]["run_id"]

    plain = pg.open("/joke")
    plain.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("x")
    plain.get_by_test_id("pg-run-stream").click()
    finish(plain)
    expect(plain.get_by_role("button", name="Good response")).to_have_count(0)


def test_page_loads_from_its_own_origin_only(pg: Browsing) -> None:
    requests: list[str] = []
    pg.page.on("request", lambda r: requests.append(r.url))
    page = pg.open("/joke")
    # The page reports when it became usable; how fast that is is measured by
    # benchmarks/playground.py, not asserted here.
    assert int(page.get_by_test_id("pg-ready").get_attribute("data-ms") or 0) > 0
    assert all(url.startswith(pg.origin) for url in requests)
    names = {url.rsplit("/", 1)[-1] for url in requests}
    assert {"info.json", "input_schema", "output_schema", "config_schema"} <= names


def test_five_megabyte_output_is_truncated_and_stays_usable(pg: Browsing) -> None:
    page = pg.open("/big")
    page.get_by_test_id("pg-input").get_by_role("textbox").fill("big")
    page.get_by_test_id("pg-run-events").click()
    expect(page.get_by_test_id("pg-status")).to_have_attribute(
        "data-status", "done", timeout=30_000
    )
    output = page.get_by_test_id("pg-output")
    expect(output.get_by_role("button", name=re.compile("Show all"))).to_be_visible()
    toggle = page.get_by_role("checkbox", name="Markdown")
    toggle.click()  # the page still answers (how fast: benchmarks/playground.py)
    expect(toggle).not_to_be_checked()
    row = page.locator("[data-testid=pg-event-row][data-name='/big']")
    row.get_by_text("Output", exact=True).click()
    expect(row.get_by_role("button", name=re.compile("Show all"))).to_be_visible()


def test_five_thousand_token_stream_renders_every_token(pg: Browsing) -> None:
    # Long tasks during this stream are counted by benchmarks/playground.py.
    page = pg.open("/many_tokens")
    page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("t")
    page.get_by_test_id("pg-run-stream").click()
    expect(page.get_by_test_id("pg-status")).to_have_attribute(
        "data-status", "done", timeout=30_000
    )
    expect(page.get_by_test_id("pg-output")).to_contain_text("tok tok tok")
    assert page.get_by_test_id("pg-output").inner_text().count("tok") == 2500


PIRATE = {"configurable": {"style": "pirate"}}


def invoke_from_pirate_link(page: Any) -> list[tuple[str, Any]]:
    """On a page opened from a `/c/{hash of PIRATE}/` link: the config form shows it,
    and an invoke answers as a pirate. Returns the POSTs the page made."""
    style = page.get_by_test_id("pg-config").get_by_role("combobox", name="Style")
    assert style.evaluate("s => s.options[s.selectedIndex].text") == "pirate"
    posts = record_posts(page)
    page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("rum")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text("arr, a pirate joke about rum")
    return posts


def test_old_config_hash_link_opens_with_its_config(pg: Browsing) -> None:
    page = pg.open(f"/configurable/c/{encode_config_hash(PIRATE)}")
    posts = invoke_from_pirate_link(page)
    assert posts[-1][0] == "invoke"
    assert posts[-1][1]["config"] == PIRATE
