"""The `base64file` widget fed by drag-and-drop, in a real Chromium."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Browsing
from tests.browser.test_playground_form import finish, record_posts

pytestmark = pytest.mark.browser


def drop_file(target: Any, name: str, mime: str, content: bytes) -> None:
    """Drag a file over `target` and drop it, as the browser does for a real drag."""
    files = target.page.evaluate_handle(
        """([name, type, bytes]) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], name, { type }));
            return data;
        }""",
        [name, mime, list(content)],
    )
    for event in ("dragenter", "dragover", "drop"):
        target.dispatch_event(event, {"dataTransfer": files})


def test_base64file_widget_takes_a_dropped_file_with_name_and_type(pg: Browsing) -> None:
    page = pg.open("/file")
    posts = record_posts(page)
    form = page.get_by_test_id("pg-input")
    drop_file(form.get_by_label("Data", exact=True), "drag.txt", "text/plain", b"hello by drag")
    expect(form).to_contain_text("drag.txt (text/plain, 13 bytes)")
    expect(form.get_by_role("textbox", name="Filename")).to_have_value("drag.txt")
    expect(form.get_by_role("textbox", name="Mime Type")).to_have_value("text/plain")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text(
        "drag.txt text/plain 13 bytes: hello by drag"
    )
    data = base64.b64encode(b"hello by drag").decode()
    expected = {"data": data, "filename": "drag.txt", "mime_type": "text/plain"}
    assert posts == [("invoke", {"input": expected, "config": {}})]


def test_langserve_style_widget_rejects_an_oversize_drop_then_takes_a_file(
    pg: Browsing,
) -> None:
    # Declared as LangServe did (`extra.widget`), with renamed name/type siblings.
    page = pg.open("/file_extra")
    posts = record_posts(page)
    form = page.get_by_test_id("pg-input")
    blob = form.get_by_label("Blob", exact=True)
    drop_file(blob, "big.bin", "application/octet-stream", b"x" * 2000)
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text("big.bin is 2,000 bytes; the limit is 1,000 bytes")
    expect(form.get_by_role("textbox", name="Name")).to_have_value("")

    drop_file(blob, "table.csv", "text/csv", b"a,b\n1,2")
    expect(alert).to_be_hidden()
    expect(form.get_by_role("textbox", name="Name")).to_have_value("table.csv")
    expect(form.get_by_role("textbox", name="Content Type")).to_have_value("text/csv")
    page.get_by_test_id("pg-run-invoke").click()
    finish(page)
    expect(page.get_by_test_id("pg-output")).to_contain_text("table.csv text/csv 7 bytes: a,b")
    data = base64.b64encode(b"a,b\n1,2").decode()
    expected = {"blob": data, "name": "table.csv", "content_type": "text/csv"}
    assert posts == [("invoke", {"input": expected, "config": {}})]
