"""LangChain.js `RemoteRunnable` (@langchain/core 0.3.80) against langserve_like.

One Node run per server (`js/probe.mjs`) calls invoke, batch, stream, streamLog
and streamEvents on the zoo and prints JSON; the tests assert on it and on it
matching the answers of the real LangServe server.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.compat.harness import (
    JS_CLIENT,
    JS_DIR,
    STREAM_ERROR,
    comparable,
    require_installed,
    run_probe,
    stream_error,
)
from tests.compat.zoo import JOKE

pytestmark = pytest.mark.compat

UNORDERED = {"parallel.stream"}  # RunnableParallel branches finish in any order


def _probe(url: str) -> dict[str, Any]:
    require_installed(Path(shutil.which("node") or "/nonexistent/node"), "Node.js")
    require_installed(JS_CLIENT, "@langchain/core 0.3.80 (npm)")
    return run_probe(["node", str(JS_DIR / "probe.mjs"), url], cwd=JS_DIR)


@pytest.fixture(scope="module")
def ours(our_url: str) -> dict[str, Any]:
    return _probe(our_url)


@pytest.fixture(scope="module")
def reference(langserve_url: str) -> dict[str, Any]:
    return _probe(langserve_url)


def test_js_client_invoke_and_batch_return_values(ours: dict[str, Any]) -> None:
    assert ours["add_one.invoke"] == {"result": 2}
    assert ours["add_one.batch"] == {"result": [2, 3]}
    assert ours["chat_str.invoke"] == {"result": JOKE}
    assert ours["parallel.invoke"] == {"result": {"doubled": 10, "as_text": "value=5"}}
    assert ours["router.invoke"] == {"result": "HEY"}


def test_js_client_revives_messages_documents_and_prompt_values(
    ours: dict[str, Any],
) -> None:
    ai = {"__class__": "AIMessage", "content": JOKE}
    assert ours["chat.invoke"] == {"result": ai}
    assert ours["chat.batch"] == {"result": [ai, ai]}
    assert ours["messages.invoke"] == {
        "result": [
            {"__class__": "SystemMessage", "content": "be nice"},
            {"__class__": "HumanMessage", "content": "hi"},
            {"__class__": "AIMessage", "content": "you sent 2 messages"},
        ]
    }
    docs = ours["docs.invoke"]["result"]
    assert [(d["__class__"], d["pageContent"], d["metadata"]) for d in docs] == [
        ("Document", "first doc about llamas", {"rank": 1}),
        ("Document", "second doc about llamas", {"rank": 2}),
    ]
    assert ours["configurable.invoke"]["result"]["value"] == "Hello Ann!"
    assert ours["configurable.invoke_configured"] == {
        "result": {"__class__": "StringPromptValue", "value": "Yo Bo"}
    }


def test_js_client_stream_yields_chunks(ours: dict[str, Any]) -> None:
    chunks = ours["chat.stream"]["chunks"]
    assert {chunk["__class__"] for chunk in chunks} == {"AIMessageChunk"}
    assert "".join(chunk["content"] for chunk in chunks) == JOKE
    assert "".join(ours["chat_str.stream"]["chunks"]) == JOKE
    assert ours["add_one.stream"] == {"chunks": [2]}
    parallel = ours["parallel.stream"]["chunks"]
    assert sorted(parallel, key=sorted) == [{"as_text": "value=5"}, {"doubled": 10}]


def test_js_client_stream_log_yields_run_log_patches(ours: dict[str, Any]) -> None:
    patches = ours["add_one.streamLog"]["chunks"]
    assert {patch["__class__"] for patch in patches} == {"RunLogPatch"}
    ops = [op for patch in patches for op in patch["ops"]]
    assert (ops[0]["op"], ops[0]["path"], ops[0]["value"]["name"]) == (
        "replace",
        "",
        "/add_one",
    )
    assert ops[-1] == {"op": "replace", "path": "/final_output", "value": 2}
    chat_ops = [op for patch in ours["chat_str.streamLog"]["chunks"] for op in patch["ops"]]
    model_chunks = [
        op["value"]
        for op in chat_ops
        if op["path"] == "/logs/GenericFakeChatModel/streamed_output/-"
    ]
    assert {chunk["__class__"] for chunk in model_chunks} == {"AIMessageChunk"}
    assert "".join(chunk["content"] for chunk in model_chunks) == JOKE
    final = [op["value"] for op in chat_ops if op["path"] == "/final_output"]
    assert final[-1] == JOKE


def test_js_client_stream_events_yields_events(ours: dict[str, Any]) -> None:
    events = ours["chat.streamEvents"]["chunks"]
    assert (events[0]["event"], events[0]["name"]) == ("on_chain_start", "/chat")
    assert (events[-1]["event"], events[-1]["name"]) == ("on_chain_end", "/chat")
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert {chunk["__class__"] for chunk in streamed} == {"AIMessageChunk"}
    assert "".join(chunk["content"] for chunk in streamed) == JOKE
    router = ours["router.streamEvents"]["chunks"]
    assert [(e["event"], e["name"]) for e in router] == [
        ("on_chain_start", "/router/inner"),
        ("on_chain_stream", "/router/inner"),
        ("on_chain_end", "/router/inner"),
    ]


def test_js_client_runnable_error_rejects_without_details(ours: dict[str, Any]) -> None:
    for call in ("fail.invoke", "fail.batch"):
        message = ours[call]["error"]["message"]
        assert message.startswith("500 Error: ")
        assert "secret" not in message
    # The client throws the raw data of the SSE `error` event.
    assert ours["fail.stream"]["chunks"] == ["partial:x"]
    assert stream_error(ours["fail.stream"]["error"]["message"]) == STREAM_ERROR
    events = ours["fail.streamEvents"]
    assert [event["event"] for event in events["chunks"]] == [
        "on_chain_start",
        "on_chain_stream",
    ]
    assert stream_error(events["error"]["message"]) == STREAM_ERROR


def test_js_client_invalid_input_rejects_with_422(ours: dict[str, Any]) -> None:
    message = ours["add_one.invoke_invalid"]["error"]["message"]
    assert message.startswith("422 Error: ")
    assert "int_parsing" in message


def test_js_client_answers_match_langserve(ours: dict[str, Any], reference: dict[str, Any]) -> None:
    assert sorted(ours) == sorted(reference)
    pairs = {
        call: {
            "ours": comparable(ours[call], unordered=call in UNORDERED),
            "langserve": comparable(reference[call], unordered=call in UNORDERED),
        }
        for call in ours
    }
    mismatched = {call: pair for call, pair in pairs.items() if pair["ours"] != pair["langserve"]}
    assert not mismatched, json.dumps(mismatched, indent=1)
