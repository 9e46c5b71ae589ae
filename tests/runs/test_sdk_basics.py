"""The LangGraph SDK's assistants, threads and runs calls against a real server."""

from __future__ import annotations

import pytest
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError


def test_assistants_are_the_mounted_paths(client: SyncLangGraphClient) -> None:
    found = {a["assistant_id"] for a in client.assistants.search(limit=100)}
    assert found == {
        "echo",
        "steps",
        "approve",
        "fail",
        "upper",
        "slow",
        "chat",
        "blocking",
        "nested",
        "poisoned",
    }
    assert client.assistants.get("echo")["graph_id"] == "echo"
    graph = client.assistants.get_graph("steps")
    assert {n["id"] for n in graph["nodes"]} >= {"a", "b", "c"}
    schemas = client.assistants.get_schemas("echo")
    assert "messages" in schemas["input_schema"]["properties"]
    assert client.assistants.count(graph_id="steps") == 1


def test_threads_create_get_update_search_count_copy_delete(client: SyncLangGraphClient) -> None:
    thread = client.threads.create(metadata={"owner": "ann"}, graph_id="echo")
    tid = thread["thread_id"]
    assert client.threads.get(tid)["metadata"] == {"owner": "ann", "graph_id": "echo"}
    client.threads.update(tid, metadata={"topic": "x"})
    assert client.threads.get(tid)["metadata"]["topic"] == "x"
    client.runs.wait(tid, "echo", input={"messages": ["hi"]})
    found = client.threads.search(metadata={"owner": "ann"}, limit=100)
    assert tid in [t["thread_id"] for t in found]
    assert client.threads.count(metadata={"owner": "ann", "topic": "x"}) == 1
    copy = client.threads.copy(tid)
    assert copy["thread_id"] != tid
    state = client.threads.get_state(copy["thread_id"])
    assert state["values"] == {"messages": ["hi", "echo: hi"]}
    client.threads.delete(tid)
    assert client.threads.count(metadata={"owner": "ann", "topic": "x"}) == 1  # the copy


def test_threads_create_existing_id_conflicts_unless_do_nothing(
    client: SyncLangGraphClient,
) -> None:
    tid = client.threads.create()["thread_id"]
    same = client.threads.create(thread_id=tid, if_exists="do_nothing")
    assert same["thread_id"] == tid
    with pytest.raises(ConflictError, match="already exists"):
        client.threads.create(thread_id=tid)


def test_runs_wait_keeps_state_and_history_on_the_thread(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    assert client.runs.wait(tid, "echo", input={"messages": ["a"]}) == {
        "messages": ["a", "echo: a"]
    }
    out = client.runs.wait(tid, "echo", input={"messages": ["b"]})
    assert out == {"messages": ["a", "echo: a", "b", "echo: b"]}
    thread = client.threads.get(tid)
    assert thread["status"] == "idle"
    assert thread["values"] == out
    history = client.threads.get_history(tid, limit=100)
    assert history[0]["values"] == out
    first = [h for h in history if h["values"] == {"messages": ["a", "echo: a"]}][0]
    old = client.threads.get_state(tid, checkpoint_id=first["checkpoint"]["checkpoint_id"])
    assert old["values"] == {"messages": ["a", "echo: a"]}


def test_threads_update_state_as_node(client: SyncLangGraphClient) -> None:
    tid = client.threads.create(graph_id="echo")["thread_id"]
    client.runs.wait(tid, "echo", input={"messages": ["a"]})
    written = client.threads.update_state(tid, {"messages": ["edited"]}, as_node="echo")
    assert written["checkpoint"]["thread_id"] == tid
    assert client.threads.get_state(tid)["values"]["messages"][-1] == "edited"
    assert client.threads.get(tid)["values"]["messages"][-1] == "edited"


def test_runs_create_join_get_list_delete(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    run = client.runs.create(tid, "echo", input={"messages": ["x"]}, metadata={"tag": 1})
    assert run["status"] in ("pending", "running")
    assert client.runs.join(tid, run["run_id"]) == {"messages": ["x", "echo: x"]}
    got = client.runs.get(tid, run["run_id"])
    assert (got["status"], got["metadata"]) == ("success", {"tag": 1})
    assert [r["run_id"] for r in client.runs.list(tid)] == [run["run_id"]]
    client.runs.delete(tid, run["run_id"])
    assert client.runs.list(tid) == []


def test_stateless_runs_serve_a_plain_runnable(client: SyncLangGraphClient) -> None:
    assert client.runs.wait(None, "upper", input="shout") == "SHOUT"
    parts = list(client.runs.stream(None, "upper", input="hey"))
    assert [p.event for p in parts] == ["metadata", "values", "end"]
    assert parts[1].data == "HEY"


def test_stateless_runs_of_a_graph_leave_no_thread(client: SyncLangGraphClient) -> None:
    before = client.threads.count()
    assert client.runs.wait(None, "echo", input={"messages": ["q"]}) == {
        "messages": ["q", "echo: q"]
    }
    assert client.threads.count() == before


def test_runs_stream_modes_values_updates_custom(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    parts = list(
        client.runs.stream(
            tid, "echo", input={"messages": ["m"]}, stream_mode=["values", "updates", "custom"]
        )
    )
    assert [p.event for p in parts] == [
        "metadata",
        "values",
        "custom",
        "updates",
        "values",
        "end",
    ]
    assert parts[2].data == {"seen": 1}
    assert parts[3].data == {"echo": {"messages": ["echo: m"]}}
    ids = [int(p.id) for p in parts if p.id]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(parts)


def test_runs_stream_debug_and_events(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    debug = list(client.runs.stream(tid, "echo", input={"messages": ["d"]}, stream_mode="debug"))
    assert {p.data["type"] for p in debug if p.event == "debug"} >= {"task", "task_result"}
    events = list(client.runs.stream(tid, "echo", input={"messages": ["e"]}, stream_mode="events"))
    kinds = {p.data["event"] for p in events if p.event == "events"}
    assert {"on_chain_start", "on_chain_end"} <= kinds


def test_unknown_stream_mode_is_a_422_naming_the_field(client: SyncLangGraphClient) -> None:
    response = client.http.client.post(
        "/runs/wait", json={"assistant_id": "echo", "stream_mode": ["bogus"]}
    )
    assert response.status_code == 422
    assert "stream_mode" in response.text


def test_unknown_assistant_is_a_404(client: SyncLangGraphClient) -> None:
    response = client.http.client.post("/runs", json={"assistant_id": "nope"})
    assert response.status_code == 404
    assert "nope" in response.text


def test_failing_run_reports_the_error_type_without_its_message(
    client: SyncLangGraphClient,
) -> None:
    tid = client.threads.create()["thread_id"]
    out = client.runs.wait(tid, "fail", input={"messages": ["x"]}, raise_error=False)
    assert out["__error__"]["error"] == "ValueError"
    assert "secret-token-123" not in str(out)
    assert client.threads.get(tid)["status"] == "error"
    run = client.runs.list(tid)[0]
    assert run["status"] == "error"


def test_ok_and_info(client: SyncLangGraphClient) -> None:
    ok = client.http.client.get("/ok").json()
    assert ok["ok"] is True
    assert ok["services"]["database"] == "healthy"
    info = client.http.client.get("/info").json()
    assert info["flags"]["store"] is True


def test_runs_stream_messages_tuple_and_messages(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    hi = {"messages": [{"type": "human", "content": "hi"}]}
    parts = list(client.runs.stream(tid, "chat", input=hi, stream_mode="messages-tuple"))
    tokens = [p.data[0]["content"] for p in parts if p.event == "messages"]
    assert "".join(tokens) == "hello there friend"
    assert len(tokens) > 1
    assert all(p.data[1]["langgraph_node"] == "talk" for p in parts if p.event == "messages")
    parts = list(client.runs.stream(tid, "chat", input=hi, stream_mode="messages"))
    events = [p.event for p in parts]
    assert events[1] == "messages/metadata"
    partial = [p.data[0]["content"] for p in parts if p.event == "messages/partial"]
    assert partial[-1] == "hello there friend"
    assert partial[0] != partial[-1]


def test_runs_stream_tasks_and_checkpoints(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    parts = list(
        client.runs.stream(tid, "steps", input={"steps": []}, stream_mode=["tasks", "checkpoints"])
    )
    tasks = [p.data["name"] for p in parts if p.event == "tasks" and "input" in p.data]
    assert tasks == ["a", "b", "c"]
    checkpoints = [p.data for p in parts if p.event == "checkpoints"]
    assert checkpoints[-1]["values"] == {"steps": ["a", "b", "c"]}


def test_runs_stream_subgraphs_name_the_subgraph_in_the_event(
    client: SyncLangGraphClient,
) -> None:
    tid = client.threads.create()["thread_id"]
    hi = {"messages": ["hi"]}
    flat = list(client.runs.stream(tid, "nested", input=hi, stream_mode="updates"))
    assert [p.event for p in flat] == ["metadata", "updates", "end"]
    deep = list(
        client.runs.stream(tid, "nested", input=hi, stream_mode="updates", stream_subgraphs=True)
    )
    names = [p.event for p in deep]
    assert names[1].startswith("updates|inner:")
    assert deep[1].data == {"echo": {"messages": ["echo: hi"]}}
    assert names[2] == "updates"
