"""Run modes, chat-mode detection and message output in a real Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.apps import JOKE
from tests.browser.conftest import Browsing
from tests.browser.test_playground_form import finish, record_posts

pytestmark = pytest.mark.browser


def test_message_output_shows_tool_calls_and_usage_in_every_mode(pg: Browsing) -> None:
    page = pg.open("/tools")
    page.get_by_test_id("pg-input").get_by_role("textbox", name="City").fill("Paris")
    output = page.get_by_test_id("pg-output")
    for mode in ("stream", "invoke", "events"):
        page.get_by_test_id(f"pg-run-{mode}").click()
        finish(page)
        expect(output).to_contain_text("Let me check.")
        # One call, whole: streamed argument fragments are joined, not listed apart.
        expect(output.get_by_text("tool call", exact=True)).to_have_count(1)
        expect(output).to_contain_text("get_weather")
        expect(output).to_contain_text("call_1")
        expect(output).to_contain_text('city: "Paris"')
        expect(output).to_contain_text("Tokens: 9 in, 7 out, 16 total")
        pg.shot(f"tool_calls_{mode}")


def test_disabled_stream_hides_its_button_and_runs_events_by_default(pg: Browsing) -> None:
    page = pg.open("/no_stream")
    expect(page.get_by_test_id("pg-run-stream")).to_have_count(0)
    expect(page.get_by_test_id("pg-run-invoke")).to_be_visible()
    expect(page.get_by_test_id("pg-run-events")).to_be_visible()
    posts = record_posts(page)
    topic = page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic")
    topic.fill("x")
    topic.press("Control+Enter")
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text(JOKE)
    rows = page.get_by_test_id("pg-events").get_by_test_id("pg-event-row")
    expect(rows.first).to_have_attribute("data-name", "/no_stream")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text(JOKE)
    assert [name for name, _ in posts] == ["stream_events", "invoke"]


def test_messages_and_question_route_is_detected_as_chat(pg: Browsing) -> None:
    page = pg.open("/auto_history")  # no playground_type="chat"
    expect(page.get_by_test_id("pg-input")).to_have_count(0)
    posts = record_posts(page)
    messages = page.get_by_test_id("pg-chat-message")
    for turn, text in enumerate(["hi parrot", "again"]):
        page.get_by_test_id("pg-chat-input").fill(text)
        page.get_by_test_id("pg-chat-send").click()
        finish(page)
        expect(messages).to_have_count(2 * turn + 2)
        # The parrot counts the human and AI messages it was sent.
        expect(messages.last).to_contain_text(f"You said: {text} ({2 * turn + 1} messages)")
    assert [m.get_attribute("data-role") for m in messages.all()] == ["human", "ai", "human", "ai"]
    first_reply = {"type": "ai", "content": "You said: hi parrot (1 messages)"}
    assert posts == [
        ("stream", {"input": {"history": [], "question": "hi parrot"}, "config": {}}),
        (
            "stream",
            {
                "input": {
                    "history": [{"type": "human", "content": "hi parrot"}, first_reply],
                    "question": "again",
                },
                "config": {},
            },
        ),
    ]
    pg.shot("auto_chat_history")


def test_message_list_route_is_detected_as_chat_and_falls_back_to_invoke(
    pg: Browsing,
) -> None:
    page = pg.open("/auto_messages")  # no playground_type="chat", and /stream disabled
    posts = record_posts(page)
    page.get_by_test_id("pg-chat-input").fill("hello")
    page.get_by_test_id("pg-chat-send").click()
    finish(page)
    messages = page.get_by_test_id("pg-chat-message")
    expect(messages).to_have_count(2)
    expect(messages.nth(1)).to_have_attribute("data-role", "ai")
    expect(messages.nth(1)).to_contain_text("You said: hello (1 messages)")
    sent = {"messages": [{"type": "human", "content": "hello"}]}
    assert posts == [("invoke", {"input": sent, "config": {}})]


def test_message_input_with_non_message_output_keeps_the_form(pg: Browsing) -> None:
    page = pg.open("/message_stats")
    expect(page.get_by_test_id("pg-input")).to_be_visible()
    expect(page.get_by_test_id("pg-chat-input")).to_have_count(0)
