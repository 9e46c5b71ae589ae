"""Chat mode (`playground_type="chat"`) in a real Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Browsing
from tests.browser.test_playground_form import finish, record_posts

pytestmark = pytest.mark.browser


def test_chat_two_turns_send_exactly_the_history(pg: Browsing) -> None:
    page = pg.open("/chat")
    posts = record_posts(page)
    expect(page.get_by_test_id("pg-config")).to_be_visible()
    box = page.get_by_test_id("pg-chat-input")
    box.fill("hi parrot")
    page.get_by_test_id("pg-chat-send").click()
    finish(page)
    messages = page.get_by_test_id("pg-chat-message")
    expect(messages).to_have_count(2)
    expect(messages.nth(1)).to_have_attribute("data-role", "ai")
    expect(messages.nth(1)).to_contain_text("You said: hi parrot (1 messages)")

    box.fill("again")
    box.press("Enter")
    finish(page)
    expect(messages).to_have_count(4)
    expect(messages.nth(3)).to_contain_text("You said: again (3 messages)")
    assert [m.get_attribute("data-role") for m in messages.all()] == ["human", "ai", "human", "ai"]
    assert posts[1] == (
        "stream",
        {
            "input": {
                "messages": [
                    {"type": "human", "content": "hi parrot"},
                    {"type": "ai", "content": "You said: hi parrot (1 messages)"},
                    {"type": "human", "content": "again"},
                ]
            },
            "config": {},
        },
    )
    pg.shot("chat_two_turns")

    # The config form works in chat mode too.
    page.get_by_test_id("pg-config").get_by_role("textbox", name="Prefix").fill("Polly says:")
    page.get_by_role("button", name="Regenerate the reply").click()
    finish(page)
    expect(messages).to_have_count(4)
    expect(messages.nth(3)).to_contain_text("Polly says: again (3 messages)")
    assert posts[-1][1]["config"] == {"configurable": {"prefix": "Polly says:"}}
    assert len(posts[-1][1]["input"]["messages"]) == 3


def test_chat_delete_and_error_free_empty_state(pg: Browsing) -> None:
    page = pg.open("/chat")
    expect(page.get_by_test_id("pg-chat-message")).to_have_count(0)
    page.get_by_test_id("pg-chat-input").fill("one")
    page.get_by_test_id("pg-chat-send").click()
    finish(page)
    page.get_by_role("button", name="Delete message 2").click()
    expect(page.get_by_test_id("pg-chat-message")).to_have_count(1)
    expect(page.get_by_test_id("pg-chat-message")).to_have_attribute("data-role", "human")
