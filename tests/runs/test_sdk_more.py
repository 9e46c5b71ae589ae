"""The store API, after_seconds, webhooks and the checkpointer rule."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import NotFoundError

from langserve_like import add_routes
from tests.runs.apps import Echo, echo_node
from tests.runs.databases import query


def test_store_put_get_search_namespaces_delete(client: SyncLangGraphClient) -> None:
    client.store.put_item(["users", "ann"], "prefs", {"theme": "dark"})
    client.store.put_item(["users", "bob"], "prefs", {"theme": "light"})
    item = client.store.get_item(["users", "ann"], "prefs")
    assert (item["namespace"], item["key"], item["value"]) == (
        ["users", "ann"],
        "prefs",
        {"theme": "dark"},
    )
    found = client.store.search_items(["users"], filter={"theme": "light"})
    assert [i["namespace"] for i in found["items"]] == [["users", "bob"]]
    spaces = client.store.list_namespaces(prefix=["users"])["namespaces"]
    assert sorted(spaces) == [["users", "ann"], ["users", "bob"]]
    client.store.delete_item(["users", "ann"], "prefs")
    with pytest.raises(NotFoundError):
        client.store.get_item(["users", "ann"], "prefs")


def test_after_seconds_keeps_the_run_pending_until_then(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    run = client.runs.create(tid, "echo", input={"messages": ["soon"]}, after_seconds=2)
    assert client.runs.get(tid, run["run_id"])["status"] == "pending"
    assert client.runs.join(tid, run["run_id"]) == {"messages": ["soon", "echo: soon"]}


class _Receiver(http.server.BaseHTTPRequestHandler):
    """Fails the first delivery with a 503, accepts the second."""

    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(503 if len(type(self).received) == 1 else 204)
        self.end_headers()
        if len(type(self).received) == 2:
            type(self).arrived.set()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    # A receiver per test (the suite runs once per database).
    _Receiver.received, _Receiver.arrived = [], threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_receives_the_finished_run_and_is_retried(
    client: SyncLangGraphClient, webhook: str
) -> None:
    tid = client.threads.create()["thread_id"]
    run = client.runs.create(tid, "echo", input={"messages": ["w"]}, webhook=webhook)
    assert _Receiver.arrived.wait(timeout=30)
    assert _Receiver.received[0] == _Receiver.received[1]
    body = _Receiver.received[1]
    assert (body["run_id"], body["status"]) == (run["run_id"], "success")
    assert body["values"] == {"messages": ["w", "echo: w"]}


def test_a_graph_with_its_own_checkpointer_is_refused() -> None:
    from langgraph.graph import START, StateGraph

    graph = (
        StateGraph(Echo)
        .add_node("echo", echo_node)
        .add_edge(START, "echo")
        .compile(checkpointer=InMemorySaver())
    )
    with pytest.raises(ValueError, match="own checkpointer"):
        add_routes(FastAPI(), graph, path="/mine", runs=True)


def test_runs_needs_the_app_not_a_router() -> None:
    from fastapi import APIRouter

    from tests.runs.apps import echo

    with pytest.raises(TypeError, match="FastAPI app"):
        add_routes(APIRouter(), echo, path="/e", runs=True)


def test_cancel_many_stops_the_pending_runs_of_a_thread(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    runs = [
        client.runs.create(tid, "echo", input={"messages": [str(i)]}, after_seconds=600)
        for i in range(3)
    ]
    client.runs.cancel_many(thread_id=tid, status="pending")
    assert {client.runs.get(tid, r["run_id"])["status"] for r in runs} == {"interrupted"}
    assert client.threads.get(tid)["status"] == "idle"


def test_the_api_answers_503_until_the_lifespan_started_the_engine() -> None:
    from fastapi.testclient import TestClient

    from tests.runs.apps import echo

    app = FastAPI()
    add_routes(app, echo, path="/echo", runs=True)
    response = TestClient(app).post("/threads", json={})
    assert response.status_code == 503
    assert "lifespan" in response.json()["detail"]


def test_runs_options_refuse_a_heartbeat_that_would_self_fence() -> None:
    from langserve_like import Runs

    with pytest.raises(ValueError, match="heartbeat"):
        Runs(lease_ttl=12, heartbeat=10)
    with pytest.raises(ValueError, match="SQLite file path or a postgresql:// URL"):
        Runs(database="mysql://localhost/db").database_path()
    assert Runs(database="postgresql+psycopg://h/db").postgres_url() == "postgresql://h/db"
    assert Runs(database="./runs.db").postgres_url() is None


def test_remote_graph_uses_a_served_graph_as_a_node(client: SyncLangGraphClient) -> None:
    from langgraph.graph import START, StateGraph
    from langgraph.pregel.remote import RemoteGraph

    remote = RemoteGraph("echo", sync_client=client)  # the fixture closes its connections
    local = StateGraph(Echo).add_node("remote", remote).add_edge(START, "remote").compile()
    assert local.invoke({"messages": ["far"]}) == {"messages": ["far", "far", "echo: far"]}
    assert list(remote.stream({"messages": ["s"]}, stream_mode="updates")) == [
        {"echo": {"messages": ["echo: s"]}}
    ]


def test_create_batch_makes_stateless_runs(client: SyncLangGraphClient) -> None:
    runs = client.runs.create_batch(
        [{"assistant_id": "upper", "input": "a"}, {"assistant_id": "upper", "input": "b"}]
    )
    assert len({r["run_id"] for r in runs}) == 2
    assert all(r["thread_id"] is None for r in runs)


def test_a_failed_stateless_graph_run_leaves_no_checkpoints(
    client: SyncLangGraphClient, database: str
) -> None:
    out = client.runs.wait(None, "fail", input={"messages": ["x"]}, raise_error=False)
    assert out["__error__"]["error"] == "ValueError"
    [(stateless,)] = query(
        database,
        "SELECT count(*) FROM checkpoints WHERE thread_id IN"
        " (SELECT run_id FROM lsl_runs WHERE thread_id IS NULL)",
    )
    assert stateless == 0


def test_runs_prefix_moves_the_api(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from langserve_like import Runs
    from tests.runs.apps import echo

    app = FastAPI()
    add_routes(app, echo, path="/echo", runs=Runs(database=str(tmp_path / "r.db"), prefix="/lg"))
    with TestClient(app) as http:
        thread = http.post("/lg/threads", json={}).json()["thread_id"]
        body = {"assistant_id": "echo", "input": {"messages": ["p"]}}
        out = http.post(f"/lg/threads/{thread}/runs/wait", json=body)
        assert out.json() == {"messages": ["p", "echo: p"]}
        assert out.headers["Location"].startswith(f"/lg/threads/{thread}/runs/")
        assert http.post("/threads", json={}).status_code == 404
        assert http.post("/echo/invoke", json={"input": {"messages": ["q"]}}).status_code == 200
