"""The official `langserve.RemoteRunnable` (LangServe 0.3.3) against langserve_like.

One probe run per server (`python_client_probe.py`, in .venv-langserve) calls
every client method on the zoo; the tests assert on its JSON, and on it matching
the answers of the real LangServe server serving the same zoo.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import httpx_sse
import pytest

from tests.compat.harness import (
    COMPAT_DIR,
    LANGSERVE_PYTHON,
    STREAM_ERROR,
    comparable,
    require_installed,
    run_probe,
    stream_error,
)
from tests.compat.zoo import JOKE

pytestmark = pytest.mark.compat

PROBE = COMPAT_DIR / "python_client_probe.py"
UNORDERED = {"parallel.astream"}  # RunnableParallel branches finish in any order
# LangServe kills the connection after a 500, so its answer here is racy.
FIXED_IN_OURS = {"fail.stream_after_500"}


def _probe(url: str) -> dict[str, Any]:
    require_installed(LANGSERVE_PYTHON, "LangServe 0.3.3 virtualenv")
    return run_probe([str(LANGSERVE_PYTHON), str(PROBE), url])


@pytest.fixture(scope="module")
def ours(our_url: str) -> dict[str, Any]:
    return _probe(our_url)


@pytest.fixture(scope="module")
def reference(langserve_url: str) -> dict[str, Any]:
    return _probe(langserve_url)


def test_python_client_invoke_and_batch_return_plain_values(
    ours: dict[str, Any],
) -> None:
    assert ours["add_one.invoke"] == {"result": 2}
    assert ours["add_one.ainvoke"] == {"result": 3}
    assert ours["add_one.batch"] == {"result": [2, 3]}
    assert ours["add_one.abatch"] == {"result": [4, 5]}
    assert ours["chat_str.invoke"] == {"result": JOKE}
    assert ours["chat_str.abatch"] == {"result": [JOKE, JOKE]}
    assert ours["parallel.invoke"] == {"result": {"as_text": "value=5", "doubled": 10}}


def test_python_client_chat_model_output_is_ai_message(ours: dict[str, Any]) -> None:
    for call in ("chat.invoke", "chat.ainvoke"):
        message = ours[call]["result"]
        assert message["__class__"] == "AIMessage"
        assert message["content"] == JOKE
        assert message["id"].startswith("lc_run--")
    first, second = ours["chat.batch"]["result"]
    assert first["__class__"] == second["__class__"] == "AIMessage"
    assert first["id"] != second["id"]


def test_python_client_stream_yields_message_chunks(ours: dict[str, Any]) -> None:
    for call in ("chat.stream", "chat.astream"):
        chunks = ours[call]["chunks"]
        assert {chunk["__class__"] for chunk in chunks} == {"AIMessageChunk"}
        assert "".join(chunk["content"] for chunk in chunks) == JOKE
        assert [chunk["chunk_position"] for chunk in chunks][-2:] == [None, "last"]
    assert ours["chat_str.astream"] == {
        "chunks": ["hello", " ", "world", " ", "this", " ", "is", " ", "a", " ", "joke"]
    }
    assert ours["add_one.stream"] == ours["add_one.astream"] == {"chunks": [2]}


def test_python_client_decodes_documents(ours: dict[str, Any]) -> None:
    docs = ours["docs.invoke"]["result"]
    assert [(d["__class__"], d["page_content"], d["metadata"]) for d in docs] == [
        ("Document", "first doc about llamas", {"rank": 1}),
        ("Document", "second doc about llamas", {"rank": 2}),
    ]
    assert ours["docs.astream"] == {"chunks": [docs]}


def test_python_client_parallel_stream_yields_addable_dicts(
    ours: dict[str, Any],
) -> None:
    chunks = ours["parallel.astream"]["chunks"]
    assert sorted(chunks, key=lambda chunk: sorted(chunk)) == [
        {"__class__": "AddableDict", "as_text": "value=5"},
        {"__class__": "AddableDict", "doubled": 10},
    ]


def test_python_client_config_reaches_configurable_fields(ours: dict[str, Any]) -> None:
    answers = [
        ours[call]["result"]
        for call in (
            "configurable.invoke",
            "configurable.invoke_configured",
            "configurable.with_config",
        )
    ]
    assert [(a["__class__"], a["text"]) for a in answers] == [
        ("StringPromptValue", "Hello Ann!"),
        ("StringPromptValue", "Yo Bo"),
        ("StringPromptValue", "Yo Cy"),
    ]


def test_python_client_messages_round_trip_as_their_classes(
    ours: dict[str, Any],
) -> None:
    messages = ours["messages.invoke"]["result"]
    assert [(m["__class__"], m["content"]) for m in messages] == [
        ("SystemMessage", "be nice"),
        ("HumanMessage", "hi"),
        ("AIMessage", "you sent 2 messages"),
    ]


def test_python_client_astream_log_yields_run_log_patches(ours: dict[str, Any]) -> None:
    log = ours["add_one.astream_log"]
    assert {patch["__class__"] for patch in log["chunks"]} == {"RunLogPatch"}
    assert log["total"]["__class__"] == "RunLog"
    assert log["total"]["state"]["name"] == "/add_one"
    assert log["total"]["state"]["final_output"] == 2
    state = ours["chat_str.astream_log"]["total"]["state"]
    assert state["final_output"] == JOKE
    assert list(state["logs"]) == ["GenericFakeChatModel"]
    model = state["logs"]["GenericFakeChatModel"]
    assert {chunk["__class__"] for chunk in model["streamed_output"]} == {"AIMessageChunk"}
    assert model["final_output"]["__class__"] == "LLMResult"


def test_python_client_astream_events_yields_event_dicts(ours: dict[str, Any]) -> None:
    events = ours["chat.astream_events"]["chunks"]
    root = events[0]
    assert (root["event"], root["name"], root["parent_ids"]) == (
        "on_chain_start",
        "/chat",
        [],
    )
    assert (events[-1]["event"], events[-1]["run_id"]) == (
        "on_chain_end",
        root["run_id"],
    )
    children = [event for event in events if event["run_id"] != root["run_id"]]
    assert {event["name"] for event in children} == {
        "ChatPromptTemplate",
        "GenericFakeChatModel",
    }
    assert all(event["parent_ids"] == [root["run_id"]] for event in children)
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert {chunk["__class__"] for chunk in streamed} == {"AIMessageChunk"}
    assert "".join(chunk["content"] for chunk in streamed) == JOKE
    assert not [key for event in events for key in event["metadata"] if key.startswith("__")]


def test_python_client_sees_router_prefix_in_run_name(ours: dict[str, Any]) -> None:
    assert ours["router.invoke"] == {"result": "HEY"}
    events = ours["router.astream_events"]["chunks"]
    assert [(e["event"], e["name"]) for e in events] == [
        ("on_chain_start", "/router/inner"),
        ("on_chain_stream", "/router/inner"),
        ("on_chain_end", "/router/inner"),
    ]


def test_python_client_runnable_error_raises_http_500(ours: dict[str, Any]) -> None:
    for call in ("fail.invoke", "fail.ainvoke"):
        error = ours[call]["error"]
        assert (error["class"], error["status_code"]) == ("HTTPStatusError", 500)
        assert "secret" not in error["message"]
    stream_error = {
        "class": "HTTPStatusError",
        "message": "Internal Server Error",
        "status_code": 500,
    }
    assert ours["fail.stream"] == {"chunks": ["partial:x"], "error": stream_error}
    assert ours["fail.astream"] == {"chunks": ["partial:x"], "error": stream_error}
    assert ours["fail.stream_after_500"] == ours["fail.stream"]
    events = ours["fail.astream_events"]
    assert [event["event"] for event in events["chunks"]] == [
        "on_chain_start",
        "on_chain_stream",
    ]
    assert events["error"] == stream_error


def test_python_client_invalid_input_raises_http_422(ours: dict[str, Any]) -> None:
    error = ours["add_one.invoke_invalid"]["error"]
    assert (error["class"], error["status_code"]) == ("HTTPStatusError", 422)
    assert "int_parsing" in error["message"]


def test_python_client_answers_match_langserve(
    ours: dict[str, Any], reference: dict[str, Any]
) -> None:
    assert sorted(ours) == sorted(reference)
    pairs = {
        call: {
            "ours": comparable(ours[call], unordered=call in UNORDERED),
            "langserve": comparable(reference[call], unordered=call in UNORDERED),
        }
        for call in ours.keys() - FIXED_IN_OURS
    }
    mismatched = {call: pair for call, pair in pairs.items() if pair["ours"] != pair["langserve"]}
    assert not mismatched, json.dumps(mismatched, indent=1)


def _stream_events(url: str) -> list[tuple[str, str]]:
    with (
        httpx.Client(timeout=30) as client,
        httpx_sse.connect_sse(client, "POST", f"{url}/fail/stream", json={"input": "x"}) as source,
    ):
        return [(event.event, event.data) for event in source.iter_sse()]


def test_stream_error_ends_response_cleanly_unlike_langserve(
    our_url: str, langserve_url: str
) -> None:
    """LangServe aborts the chunked body after `event: error`."""
    events = _stream_events(our_url)
    assert [name for name, _ in events] == ["metadata", "data", "error"]
    assert stream_error(events[-1][1]) == STREAM_ERROR
    with pytest.raises(httpx.RemoteProtocolError):
        _stream_events(langserve_url)
