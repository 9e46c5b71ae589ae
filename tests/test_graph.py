"""LangGraph graphs through the LangServe endpoints, over a real socket.

The graphs are in `tests/graph_app.py`: `/essay` (write -> polish, with a context
schema), `/strict` (a declared input schema) and `/pause` (calls `interrupt()`).
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from typing_extensions import TypedDict

from langserve_like import RemoteRunnable, add_routes
from langserve_like.exceptions import RemoteRequestError
from tests.graph_app import Essay
from tests.servers import run_uvicorn
from tests.sse_util import names, sse_events

pytestmark = pytest.mark.live

CATS = {"topic": "cats"}
FINAL = "A DRAFT IN FIVE TOKENS ON CATS FOR KIDS"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_uvicorn("tests.graph_app:app") as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as http:
        yield http


def _data(events: list[tuple[str, Any]]) -> list[Any]:
    return [data for name, data in events if name == "data"]


def test_graph_invoke_accepts_a_partial_state(client: httpx.Client) -> None:
    body = {"input": CATS, "context": {"audience": "kids"}}
    answer = client.post("/essay/invoke", json=body)

    assert answer.status_code == 200, answer.text
    assert answer.json()["output"] == {
        "topic": "cats",
        "draft": "a draft in five tokens on cats for kids",
        "final": FINAL,
    }


def test_graph_input_types_are_still_validated(client: httpx.Client) -> None:
    answer = client.post("/essay/invoke", json={"input": {"topic": 3}})

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == [
        "topic"
    ]  # relative to the input, as LangServe reports it


def test_graph_input_schema_marks_no_state_key_required(client: httpx.Client) -> None:
    schema = client.get("/essay/input_schema").json()
    state = schema["$defs"]["Essay"]

    assert set(state["properties"]) == {"topic", "draft", "final"}
    assert "required" not in state


def test_graph_declared_input_schema_keeps_its_required_keys(client: httpx.Client) -> None:
    missing = client.post("/strict/invoke", json={"input": {"draft": "x"}})
    ok = client.post("/strict/invoke", json={"input": {"topic": "owls"}})

    assert missing.status_code == 422
    assert [e["loc"] for e in missing.json()["detail"]] == [["topic"]]
    assert ok.json()["output"]["final"] == "OWLS"


def test_graph_batch_runs_each_partial_input_with_the_context(client: httpx.Client) -> None:
    body = {"inputs": [CATS, {"topic": "dogs"}], "context": {"audience": "kids", "excited": True}}
    answer = client.post("/essay/batch", json=body)

    assert answer.status_code == 200, answer.text
    finals = [output["final"] for output in answer.json()["output"]]
    assert finals == [FINAL + "!", FINAL.replace("CATS", "DOGS") + "!"]


def test_graph_context_is_validated_against_the_context_schema(client: httpx.Client) -> None:
    wrong = client.post("/essay/invoke", json={"input": CATS, "context": {"excited": True}})
    not_object = client.post("/essay/invoke", json={"input": CATS, "context": [1]})

    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["context", "audience"]
    assert not_object.status_code == 422
    assert not_object.json()["detail"][0]["loc"] == ["context"]


def test_graph_context_schema_endpoint_describes_the_context(client: httpx.Client) -> None:
    schema = client.get("/essay/context_schema").json()

    assert schema["required"] == ["audience"]
    assert set(schema["properties"]) == {"audience", "excited"}


def test_graph_stream_sends_per_node_updates(client: httpx.Client) -> None:
    events = sse_events(client, "/essay/stream", {"input": CATS, "context": {"audience": "kids"}})

    assert names(events)[0] == "metadata"
    assert names(events)[-1] == "end"
    assert _data(events) == [
        {"write": {"draft": "a draft in five tokens on cats for kids"}},
        {"polish": {"final": FINAL}},
    ]


@pytest.mark.parametrize("mode", ["values", "updates", "messages", "custom"])
def test_graph_stream_mode_tags_each_event_with_its_mode(client: httpx.Client, mode: str) -> None:
    body = {"input": CATS, "context": {"audience": "kids"}, "stream_mode": mode}
    data = _data(sse_events(client, "/essay/stream", body))

    assert data
    assert {item["mode"] for item in data} == {mode}
    chunks = [item["data"] for item in data]
    if mode == "values":
        assert chunks[0] == CATS
        assert chunks[-1]["final"] == FINAL
    elif mode == "updates":
        assert [next(iter(chunk)) for chunk in chunks] == ["write", "polish"]
    elif mode == "messages":
        tokens = "".join(message["content"] for message, _ in chunks)
        assert tokens == "a draft in five tokens"
        assert {meta["langgraph_node"] for _, meta in chunks} == {"write"}
    else:
        assert chunks == [{"progress": "writing"}]


def test_graph_stream_mode_list_interleaves_the_modes(client: httpx.Client) -> None:
    body = {"input": CATS, "stream_mode": ["updates", "custom"]}
    data = _data(sse_events(client, "/essay/stream", body))

    assert [item["mode"] for item in data] == ["custom", "updates", "updates"]


def test_graph_stream_mode_rejects_unknown_modes(client: httpx.Client) -> None:
    bad = client.post("/essay/stream", json={"input": CATS, "stream_mode": ["values", "debug"]})

    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["stream_mode"]


def test_graph_stream_mode_on_invoke_is_ignored_like_any_unknown_key(
    client: httpx.Client,
) -> None:
    on_invoke = client.post("/essay/invoke", json={"input": CATS, "stream_mode": "values"})

    assert on_invoke.status_code == 200, on_invoke.text
    assert on_invoke.json()["output"]["final"] == "A DRAFT IN FIVE TOKENS ON CATS FOR NOBODY"


def test_graph_stream_events_show_nodes_and_tokens(client: httpx.Client) -> None:
    events = _data(sse_events(client, "/essay/stream_events", {"input": CATS}))

    started = {e["name"] for e in events if e["event"] == "on_chain_start"}
    tokens = [e["data"]["chunk"]["content"] for e in events if e["event"] == "on_chat_model_stream"]
    assert {"write", "polish"} <= started
    assert "".join(tokens) == "a draft in five tokens"
    token_nodes = {e["metadata"]["langgraph_node"] for e in events if "chat_model" in e["event"]}
    assert token_nodes == {"write"}


def test_graph_stream_log_runs_with_the_context(client: httpx.Client) -> None:
    body = {"input": CATS, "context": {"audience": "kids"}}
    events = sse_events(client, "/essay/stream_log", body)

    assert names(events)[-1] == "end"
    ops = [op for data in _data(events) for op in data["ops"]]
    assert {"op": "add", "path": "/streamed_output/-", "value": {"polish": {"final": FINAL}}} in ops


def test_graph_remote_runnable_invokes_batches_and_streams(server: str) -> None:
    with RemoteRunnable(f"{server}/essay") as essay:
        output = essay.invoke(CATS)
        outputs = essay.batch([CATS, {"topic": "owls"}])
        chunks = list(essay.stream({"topic": "owls"}))
        with pytest.raises(RemoteRequestError) as caught:
            essay.invoke({"topic": ["not", "a", "string"]})

    assert output["final"] == "A DRAFT IN FIVE TOKENS ON CATS FOR NOBODY"
    assert [o["topic"] for o in outputs] == ["cats", "owls"]
    assert [next(iter(chunk)) for chunk in chunks] == ["write", "polish"]
    assert caught.value.status_code == 422


def test_graph_interrupt_without_threads_says_what_is_needed(client: httpx.Client) -> None:
    invoked = client.post("/pause/invoke", json={"input": CATS})
    streamed = client.post("/pause/stream", json={"input": CATS})
    events = sse_events(client, "/pause/stream_events", {"input": CATS})

    for answer in (invoked, streamed):
        assert answer.status_code == 409
        assert "add_routes(..., runs=...)" in answer.json()["detail"]
    assert names(events)[-1] == "error"
    assert events[-1][1]["status_code"] == 409
    assert "needs threads" in events[-1][1]["message"]


def test_graph_command_resume_without_threads_is_a_422(client: httpx.Client) -> None:
    answer = client.post("/essay/invoke", json={"input": {}, "command": {"resume": "cats"}})

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["command"]
    assert "needs threads" in answer.json()["detail"][0]["msg"]


def test_graph_docs_show_context_and_stream_mode(client: httpx.Client) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    assert "context" in schemas["essayInvokeRequest"]["properties"]
    assert "stream_mode" in schemas["essayStreamRequest"]["properties"]
    assert "stream_mode" not in schemas["essayInvokeRequest"]["properties"]


def _one_node(state: Any) -> dict[str, Any]:
    return {"final": "done"}


def test_graph_with_its_own_checkpointer_is_refused_at_add_routes() -> None:
    builder = StateGraph(Essay)
    builder.add_node("one", _one_node)
    builder.add_edge(START, "one")
    graph = builder.compile(checkpointer=InMemorySaver())

    with pytest.raises(ValueError, match=r"own checkpointer.*compile\(\)"):
        add_routes(FastAPI(), graph, path="/g")


class Point(typing.TypedDict):
    x: int


class Flat(typing.TypedDict):
    final: str


class Nested(TypedDict):
    final: str
    point: Point


def test_graph_typing_typeddict_state_is_served_with_partial_input() -> None:
    builder = StateGraph(Flat)
    builder.add_node("one", _one_node)
    builder.add_edge(START, "one")
    app = FastAPI()
    add_routes(app, builder.compile(), path="/g")

    answer = TestClient(app).post("/g/invoke", json={"input": {}})

    assert answer.json()["output"] == {"final": "done"}


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="pydantic reads typing.TypedDict")
def test_graph_nested_typing_typeddict_error_names_typing_extensions() -> None:
    builder = StateGraph(Nested)
    builder.add_node("one", _one_node)
    builder.add_edge(START, "one")

    with pytest.raises(TypeError, match=r"use typing_extensions\.TypedDict"):
        add_routes(FastAPI(), builder.compile(), path="/g")
