"""Every example in examples/ is imported and its endpoints are called, in process.

The examples run with their fake models (no API key in the environment), and the
chat-history ones write their SQLite files into a temporary directory.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx_sse import connect_sse

from langserve_like.server.config import encode_config_hash

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("[0-9][0-9]_*.py"))
# Each example must have a test below; this list is checked against the folder.
TESTED = {
    "01_joke_chain",
    "02_retriever",
    "03_conversational_retrieval",
    "04_agent",
    "05_chat_persistence",
    "06_chat_persistence_user",
    "07_auth_global_dependencies",
    "08_auth_path_dependencies",
    "09_auth_per_user",
    "10_configurable",
    "11_api_handler",
    "12_passthrough_dict",
    "13_widgets",
    "14_chat_playground",
    "15_langgraph_agent",
    "16_threads_and_runs",
}

Events = list[tuple[str, Any]]


def load_example(name: str) -> ModuleType:
    """Import examples/NAME.py afresh, as a server process would on start-up."""
    module_name = f"example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic resolves the module's models through it
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


@pytest.fixture
def example(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[[str], TestClient]]:
    """`example("01_joke_chain")` -> a TestClient for that example's `app`."""
    for name in ("OPENAI_API_KEY", "EXAMPLE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAT_HISTORY_DB", str(tmp_path / "history.sqlite3"))
    monkeypatch.setenv("RUNS_DB", str(tmp_path / "runs.db"))
    loaded: list[str] = []

    def open_example(name: str) -> TestClient:
        module = load_example(name)
        loaded.append(module.__name__)
        return TestClient(module.app)

    yield open_example
    for module_name in loaded:
        sys.modules.pop(module_name, None)


def stream(client: TestClient, url: str, body: Any, **kwargs: Any) -> Events:
    """POST to an SSE endpoint; (event, decoded data) pairs in order."""
    with connect_sse(client, "POST", url, json=body, **kwargs) as source:
        assert source.response.status_code == 200, source.response.read()
        return [(e.event, json.loads(e.data) if e.data else None) for e in source.iter_sse()]


def data_of(events: Events) -> list[Any]:
    assert events[0][0] == "metadata"
    assert events[-1][0] == "end", events[-3:]
    return [data for event, data in events if event == "data"]


def invoke(client: TestClient, url: str, body: Any, **kwargs: Any) -> Any:
    response = client.post(url, json=body, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["output"]


# --- every example has the documented shape ---------------------------------------


def test_examples_each_has_a_test_and_a_readme_row() -> None:
    names = {path.stem for path in EXAMPLE_FILES}
    assert names == TESTED
    readme = (EXAMPLES / "README.md").read_text()
    for name in names:
        assert f"[{name}.py]({name}.py)" in readme


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_file_has_docstring_curl_app_and_main(path: Path) -> None:
    source = path.read_text()
    docstring = re.match(r'r?"""(.*?)"""', source, re.DOTALL)
    assert docstring, "starts with a docstring"
    assert "curl " in docstring.group(1)
    assert "127.0.0.1:8000" in docstring.group(1)
    assert "curl -N" in docstring.group(1) or "playground/" in docstring.group(1)
    assert f"langserve-like serve examples/{path.name}:app" in docstring.group(1)
    assert re.search(r"^app = FastAPI\(", source, re.MULTILINE)
    assert 'if __name__ == "__main__":' in source
    assert "uvicorn.run(app" in source


# --- 01 joke chain -----------------------------------------------------------------


def test_examples_joke_chain_invokes_batches_and_streams_tokens(example: Any) -> None:
    client = example("01_joke_chain")
    body = {"input": {"topic": "parrots"}}
    joke = invoke(client, "/joke/invoke", body)
    assert "parrots" in joke

    batch = client.post("/joke/batch", json={"inputs": [{"topic": "cats"}, {"topic": "dogs"}]})
    assert batch.status_code == 200
    assert ["cats" in batch.json()["output"][0], "dogs" in batch.json()["output"][1]] == [
        True,
        True,
    ]

    tokens = data_of(stream(client, "/joke/stream", body))
    assert len(tokens) > 10
    assert "".join(tokens) == joke

    events = data_of(stream(client, "/joke/stream_events", body))
    model_tokens = [
        e["data"]["chunk"]["content"] for e in events if e["event"] == "on_chat_model_stream"
    ]
    assert "".join(model_tokens) == joke

    assert client.get("/joke/input_schema").json()["properties"]["topic"]["type"] == "string"
    assert client.get("/joke/playground/").status_code == 200


# --- 02 retriever --------------------------------------------------------------------


def test_examples_retriever_ranks_the_relevant_document_first(example: Any) -> None:
    client = example("02_retriever")
    documents = invoke(client, "/retriever/invoke", {"input": "Which planet is the largest?"})
    assert documents[0]["metadata"]["title"] == "Jupiter"
    scores = [d["metadata"]["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)
    assert len(scores) == 3

    batch = client.post(
        "/retriever/batch", json={"inputs": ["red planet volcano", "dwarf planet Kuiper"]}
    )
    assert [docs[0]["metadata"]["title"] for docs in batch.json()["output"]] == ["Mars", "Pluto"]

    [streamed] = data_of(stream(client, "/retriever/stream", {"input": "rings made of ice"}))
    assert streamed[0]["metadata"]["title"] == "Saturn"
    assert invoke(client, "/retriever/invoke", {"input": "quantum chromodynamics"}) == []


# --- 03 conversational retrieval ------------------------------------------------------


def test_examples_conversational_retrieval_uses_history_for_follow_ups(example: Any) -> None:
    client = example("03_conversational_retrieval")
    first = invoke(client, "/chat/invoke", {"input": {"question": "Tell me about Saturn"}})
    assert "Saturn" in first

    follow_up = {
        "input": {
            "question": "How many moons does it have?",
            "chat_history": [["Tell me about Saturn", first]],
        }
    }
    answer = invoke(client, "/chat/invoke", follow_up)
    assert "moons" in answer
    assert "Saturn" in answer
    # Without the history the same question finds no planet in particular.
    alone = invoke(client, "/chat/invoke", {"input": {"question": "How many moons does it have?"}})
    assert alone != answer

    tokens = data_of(stream(client, "/chat/stream", follow_up))
    assert len(tokens) > 5
    assert "".join(tokens) == answer

    schema = client.get("/chat/input_schema").json()
    assert schema["properties"]["chat_history"]["widget"] == {"type": "chat", "input": "question"}


# --- 04 agent ------------------------------------------------------------------------


def test_examples_agent_runs_the_tools_the_model_asks_for(example: Any) -> None:
    client = example("04_agent")
    question = {"input": {"input": "What is 12 * (3 + 4), and how far is 42 km in miles?"}}
    result = invoke(client, "/agent/invoke", question)
    assert [step["tool"] for step in result["steps"]] == ["calculator", "convert_distance"]
    assert result["steps"][0]["result"] == "12 * (3 + 4) = 84"
    assert "84" in result["output"]
    assert "26.1 miles" in result["output"]

    chunks = data_of(stream(client, "/agent/stream", question))
    assert [c["steps"][0]["tool"] for c in chunks[:2]] == ["calculator", "convert_distance"]
    assert "".join(c["output"] for c in chunks[2:]) == result["output"]

    events = data_of(stream(client, "/agent/stream_events", {"input": {"input": "2 ** 10?"}}))
    tool_runs = [(e["event"], e["name"]) for e in events if e["event"].startswith("on_tool")]
    assert tool_runs == [("on_tool_start", "calculator"), ("on_tool_end", "calculator")]


def test_examples_agent_reports_tool_errors_to_the_model(example: Any) -> None:
    client = example("04_agent")
    result = invoke(client, "/agent/invoke", {"input": {"input": "What is 1 / 0?"}})
    assert "division by zero" in result["steps"][0]["result"]
    assert "division by zero" in result["output"]


# --- 05 chat persistence by session ---------------------------------------------------


def test_examples_chat_persistence_survives_a_restart(example: Any) -> None:
    client = example("05_chat_persistence")
    session = {"configurable": {"session_id": "session-1"}}
    first = invoke(
        client, "/chat/invoke", {"input": {"human_input": "My name is Ada."}, "config": session}
    )
    assert "first message" in first
    tokens = data_of(
        stream(client, "/chat/stream", {"input": {"human_input": "I like tea."}, "config": session})
    )
    assert "My name is Ada." in "".join(tokens)

    restarted = example("05_chat_persistence")  # a new app over the same SQLite file
    reply = invoke(
        restarted, "/chat/invoke", {"input": {"human_input": "Still there?"}, "config": session}
    )
    assert "I like tea." in reply
    assert "2 earlier message(s)" in reply

    other = {"configurable": {"session_id": "session-2"}}
    assert "first message" in invoke(
        restarted, "/chat/invoke", {"input": {"human_input": "Hi"}, "config": other}
    )


@pytest.mark.parametrize("config", [{}, {"configurable": {"session_id": "../etc"}}])
def test_examples_chat_persistence_rejects_bad_session_ids(example: Any, config: Any) -> None:
    client = example("05_chat_persistence")
    response = client.post("/chat/invoke", json={"input": {"human_input": "Hi"}, "config": config})
    assert response.status_code == 400
    assert "session_id" in response.json()["detail"]


# --- 06 chat persistence by user -------------------------------------------------------

ALICE = ("alice", "alice-password")
BOB = ("bob", "bob-password")


def test_examples_chat_per_user_keeps_users_apart(example: Any) -> None:
    client = example("06_chat_persistence_user")
    drinks = {"configurable": {"conversation_id": "drinks"}}
    assert (
        client.post(
            "/chat/invoke", json={"input": {"human_input": "x"}, "config": drinks}
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/chat/invoke",
            json={"input": {"human_input": "x"}, "config": drinks},
            auth=("alice", "nope"),
        ).status_code
        == 401
    )

    invoke(
        client,
        "/chat/invoke",
        {"input": {"human_input": "I like tea."}, "config": drinks},
        auth=ALICE,
    )
    assert "I like tea." in invoke(
        client,
        "/chat/invoke",
        {"input": {"human_input": "What do I like?"}, "config": drinks},
        auth=ALICE,
    )
    # Bob uses the same conversation id and claims to be Alice: he still gets his own.
    as_alice = {"configurable": {"conversation_id": "drinks", "user_id": "alice"}}
    tokens = data_of(
        stream(
            client, "/chat/stream", {"input": {"human_input": "Hi"}, "config": as_alice}, auth=BOB
        )
    )
    assert "".join(tokens) == "You said: 'Hi'. Nice to meet you."

    assert client.get("/conversations", auth=ALICE).json() == ["drinks"]
    assert client.get("/conversations").status_code == 401
    missing = client.post("/chat/invoke", json={"input": {"human_input": "x"}}, auth=ALICE)
    assert missing.status_code == 400
    assert "conversation_id" in missing.json()["detail"]


# --- 07-09 auth ------------------------------------------------------------------------


def test_examples_global_auth_covers_every_route(example: Any) -> None:
    client = example("07_auth_global_dependencies")
    body = {"input": {"topic": "locks"}}
    denied = client.post("/joke/invoke", json=body)
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"].startswith("Basic")
    for url in ("/joke/input_schema", "/joke/playground/", "/docs", "/openapi.json"):
        assert client.get(url).status_code == 401, url

    login = ("demo", "demo-password")
    assert "key" in invoke(client, "/joke/invoke", body, auth=login)
    assert len(data_of(stream(client, "/joke/stream", body, auth=login))) > 5
    assert "/joke/invoke" in client.get("/openapi.json", auth=login).json()["paths"]
    assert client.get("/docs", auth=login).status_code == 200


def test_examples_path_auth_covers_only_the_private_route(example: Any) -> None:
    client = example("08_auth_path_dependencies")
    assert invoke(client, "/public/invoke", {"input": "hi"}).startswith("Public answer")
    assert len(data_of(stream(client, "/public/stream", {"input": "hi"}))) > 3
    for url in ("/private/invoke", "/private/stream", "/private/batch"):
        assert client.post(url, json={"input": "hi", "inputs": ["hi"]}).status_code == 401
    wrong = client.post("/private/invoke", json={"input": "hi"}, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401

    key = {"X-API-Key": "secret-key"}
    assert invoke(client, "/private/invoke", {"input": "hi"}, headers=key).startswith("Private")
    tokens = data_of(stream(client, "/private/stream", {"input": "hi"}, headers=key))
    assert "".join(tokens).startswith("Private answer")
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


def test_examples_per_user_modifier_authenticates_and_filters(example: Any) -> None:
    client = example("09_auth_per_user")
    assert client.post("/notes/invoke", json={"input": "tea"}).status_code == 401
    assert (
        client.post(
            "/notes/invoke", json={"input": "tea"}, auth=("alice", "bob-password")
        ).status_code
        == 401
    )
    assert client.get("/notes/input_schema").status_code == 401

    assert invoke(client, "/notes/invoke", {"input": "tea"}, auth=ALICE) == [
        "Buy green tea and oat milk."
    ]
    claims_alice = {"input": "tea", "config": {"configurable": {"user_id": "alice"}}}
    assert invoke(client, "/notes/invoke", claims_alice, auth=BOB) == ["Tea with Alice on Friday."]
    assert data_of(stream(client, "/notes/stream", {"input": ""}, auth=BOB)) == [
        ["Tea with Alice on Friday.", "Renew the passport."]
    ]


# --- 10 configurable -------------------------------------------------------------------


def test_examples_configurable_fields_and_alternatives(example: Any) -> None:
    client = example("10_configurable")
    body = {"input": {"topic": "the sea"}}
    configurable = client.get("/writer/config_schema").json()["$defs"]["Configurable"]["properties"]
    assert configurable["voice"]["enum"] == ["plain", "pirate"]
    assert configurable["kind"]["default"] == "joke"

    assert invoke(client, "/writer/invoke", body).startswith("Why did the sea")
    poem = invoke(client, "/writer/invoke", {**body, "config": {"configurable": {"kind": "poem"}}})
    assert poem.startswith("Of the sea I sing")
    pirate = {**body, "config": {"configurable": {"kind": "poem", "voice": "pirate"}}}
    assert (
        "".join(data_of(stream(client, "/writer/stream", pirate))) == f"Arr, matey! {poem} Yo ho!"
    )

    config_hash = encode_config_hash({"configurable": {"voice": "pirate"}})
    assert invoke(client, f"/writer/c/{config_hash}/invoke", body).startswith("Arr, matey! Why")
    unknown = client.post(
        "/writer/invoke", json={**body, "config": {"configurable": {"kind": "limerick"}}}
    )
    assert unknown.status_code == 422


# --- 11 APIHandler -----------------------------------------------------------------------


def test_examples_api_handler_filters_per_user(example: Any) -> None:
    client = example("11_api_handler")
    alice = {"Authorization": "Bearer alice-token"}
    bob = {"Authorization": "Bearer bob-token"}
    assert client.post("/documents/invoke", json={"input": "plan"}).status_code == 401

    def contents(documents: list[dict[str, Any]]) -> list[str]:
        return [d["page_content"] for d in documents]

    assert contents(invoke(client, "/documents/invoke", {"input": "plan"}, headers=alice)) == [
        "Holiday plan: two weeks in Lisbon.",
        "Office plan: the kitchen moves to the 2nd floor.",
    ]
    # The server_config wins over what the client sends.
    claims_alice = {"input": "salary", "config": {"configurable": {"user_id": "alice"}}}
    assert invoke(client, "/documents/invoke", claims_alice, headers=bob) == []
    batch = client.post("/documents/batch", json={"inputs": ["shed", "salary"]}, headers=bob)
    assert [contents(docs) for docs in batch.json()["output"]] == [
        ["Plan for the garden shed."],
        [],
    ]

    [streamed] = data_of(stream(client, "/documents/stream", {"input": "salary"}, headers=alice))
    assert contents(streamed) == ["Salary review notes."]
    events = data_of(stream(client, "/documents/stream_events", {"input": "x"}, headers=alice))
    assert events[0]["event"] == "on_chain_start"
    assert client.get("/documents/input_schema").json()["type"] == "string"
    # Only the routes written by hand exist.
    assert (
        client.post("/documents/stream_log", json={"input": "x"}, headers=alice).status_code == 404
    )


# --- 12 dict passthrough -----------------------------------------------------------------


def test_examples_passthrough_dict_keeps_input_keys(example: Any) -> None:
    client = example("12_passthrough_dict")
    body = {"input": {"question": "What is LCEL?", "user_name": "Ada"}}
    result = invoke(client, "/assistant/invoke", body)
    assert result["question"] == "What is LCEL?"
    assert result["user_name"] == "Ada"
    assert result["question_words"] == 3
    assert "What is LCEL?" in result["answer"]

    chunks = data_of(stream(client, "/assistant/stream", body))
    assert chunks[0] == {"question": "What is LCEL?", "user_name": "Ada"}
    assert {"question_words": 3} in chunks
    assert "".join(c.get("answer", "") for c in chunks) == result["answer"]
    assert (
        invoke(client, "/assistant/invoke", {"input": {"question": "Hi?"}})["user_name"] == "friend"
    )


# --- 13 widgets ----------------------------------------------------------------------------


def test_examples_widgets_file_upload_and_chat(example: Any) -> None:
    client = example("13_widgets")
    file = base64.b64encode(b"hello\nworld\n").decode()
    summary = invoke(
        client, "/file/invoke", {"input": {"file": file, "filename": "a.txt", "num_chars": 5}}
    )
    assert summary == {
        "filename": "a.txt",
        "size_bytes": 12,
        "lines": 2,
        "words": 2,
        "preview": "hello",
    }
    [streamed] = data_of(stream(client, "/file/stream", {"input": {"file": file}}))
    assert streamed["preview"] == "hello\nworld\n"
    bad = client.post("/file/invoke", json={"input": {"file": "not base64!"}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["file"]  # LangServe's loc: relative to the input

    file_schema = client.get("/file/input_schema").json()["properties"]["file"]
    assert file_schema["widget"]["type"] == "base64file"
    chat_schema = client.get("/chat/input_schema").json()["properties"]["messages"]
    assert chat_schema["widget"] == {"type": "chat", "input": "messages"}

    messages = {"input": {"messages": [{"type": "human", "content": "hi"}]}}
    assert invoke(client, "/chat/invoke", messages)["type"] == "ai"
    assert len(data_of(stream(client, "/chat/stream", messages))) > 3


# --- 14 chat playground ---------------------------------------------------------------------


def test_examples_chat_playground_route(example: Any) -> None:
    client = example("14_chat_playground")
    history = [
        {"type": "human", "content": "Hello!"},
        {"type": "ai", "content": "Hi!"},
        {"type": "human", "content": "How are you?"},
    ]
    reply = invoke(client, "/chat/invoke", {"input": {"messages": history}})
    assert reply["type"] == "ai"
    assert reply["content"] == "Turn 2: you said 'How are you?'."
    chunks = data_of(stream(client, "/chat/stream", {"input": {"messages": history}}))
    assert "".join(c["content"] for c in chunks) == reply["content"]

    assert client.get("/chat/playground/").status_code == 200
    assert client.get("/chat/playground/info.json").json()["playground_type"] == "chat"


# --- 15 LangGraph agent -------------------------------------------------------------


def test_examples_langgraph_agent_loops_through_the_tool_node(example: Any) -> None:
    client = example("15_langgraph_agent")
    question = "What is 12 * (3 + 4), and how far is 42 km in miles?"
    body = {"input": {"messages": [{"type": "human", "content": question}]}}
    state = invoke(client, "/agent/invoke", {**body, "context": {"user_name": "Ada"}})
    kinds = [message["type"] for message in state["messages"]]
    assert kinds == ["human", "ai", "tool", "tool", "ai"]
    assert [m["content"] for m in state["messages"][2:4]] == [
        "12 * (3 + 4) = 84",
        "42 km = 26.1 miles",
    ]
    assert state["messages"][-1]["content"].startswith("Ada here is")

    updates = data_of(stream(client, "/agent/stream", body))
    assert [next(iter(update)) for update in updates] == ["model", "tools", "model"]

    tagged = data_of(stream(client, "/agent/stream", {**body, "stream_mode": "messages"}))
    tokens = "".join(m["data"][0]["content"] for m in tagged if m["data"][0]["type"] != "tool")
    assert tokens == state["messages"][-1]["content"].replace("Ada", "friend")

    events = data_of(stream(client, "/agent/stream_events", body))
    tools = [e["name"] for e in events if e["event"] == "on_tool_start"]
    assert sorted(tools) == ["calculator", "convert_distance"]  # ToolNode runs them in parallel


def test_examples_langgraph_agent_reports_tool_errors_to_the_model(example: Any) -> None:
    client = example("15_langgraph_agent")
    body = {"input": {"messages": [{"type": "human", "content": "What is 1 / 0?"}]}}
    state = invoke(client, "/agent/invoke", body)
    assert "division by zero" in state["messages"][2]["content"]
    assert "division by zero" in state["messages"][-1]["content"]


# --- 16 threads and runs ----------------------------------------------------------


def test_examples_threads_and_runs_interrupt_then_resume(example: Any) -> None:
    with example("16_threads_and_runs") as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        body = {"assistant_id": "review", "input": {"topic": "SQLite"}}
        paused = client.post(f"/threads/{thread}/runs/wait", json=body).json()
        [question] = paused["__interrupt__"]
        assert question["value"]["draft"] == "Why SQLite is enough for most apps."
        assert client.get(f"/threads/{thread}").json()["status"] == "interrupted"
        resume = {"assistant_id": "review", "command": {"resume": "Use SQLite."}}
        done = client.post(f"/threads/{thread}/runs/wait", json=resume).json()
        assert (done["verdict"], done["published"]) == ("edited", "Use SQLite.")
        assert client.get(f"/threads/{thread}").json()["status"] == "idle"
        # The LangServe endpoints still serve the graph statelessly, where a run that
        # pauses cannot be resumed: that is a 409 pointing at threads.
        stateless = client.post("/review/invoke", json={"input": {"topic": "x"}})
        assert stateless.status_code == 409
        assert "threads" in stateless.json()["detail"]


# --- the README's quickstart snippet -------------------------------------------------------


def test_examples_quickstart_snippet_serves_the_joke() -> None:
    snippet = (EXAMPLES.parent / "docs" / "quickstart.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", snippet, re.DOTALL)
    namespace: dict[str, Any] = {"__name__": "server"}
    exec(compile(code, "docs/quickstart.md", "exec"), namespace)
    client = TestClient(namespace["app"])
    assert invoke(client, "/joke/invoke", {"input": {"topic": "parrots"}}).startswith("Why")
    assert len(data_of(stream(client, "/joke/stream", {"input": {"topic": "parrots"}}))) > 5
