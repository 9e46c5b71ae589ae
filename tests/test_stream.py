import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableGenerator, RunnableLambda

from langserve_like import add_routes
from langserve_like.wire import DATA, END, ERROR, METADATA
from tests import runnables
from tests.servers import run_uvicorn
from tests.sse_util import names, sse_events

STREAMS = ["stream", "stream_log", "stream_events"]


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    add_routes(app, RunnableLambda(runnables.add_one), path="/add_one")
    add_routes(app, runnables.joke_text_chain(), path="/joke")
    add_routes(app, runnables.failing_stream(), path="/fail_stream")
    add_routes(app, RunnableLambda(runnables.fail), path="/fail")
    add_routes(
        app,
        runnables.joke_chain(),
        path="/allow",
        stream_log_name_allow_list=["GenericFakeChatModel"],
    )
    return TestClient(app)


@pytest.mark.parametrize("endpoint", STREAMS)
def test_stream_sends_metadata_then_data_then_end(client: TestClient, endpoint: str) -> None:
    # LangServe sent `metadata` lazily on /stream and not at all on the others.
    events = sse_events(client, f"/add_one/{endpoint}", {"input": 1})
    assert events[0][0] == METADATA
    assert len(events[0][1]["run_id"]) == 36
    assert events[-1] == (END, None)
    assert set(names(events)[1:-1]) == {DATA}


def test_stream_yields_each_chunk(client: TestClient) -> None:
    events = sse_events(client, "/joke/stream", {"input": {"topic": "cats"}})
    chunks = [data for name, data in events if name == DATA]
    assert "".join(chunks) == "hello world this is a joke"
    assert len(chunks) > 5  # token by token, not one blob


def test_stream_response_headers(client: TestClient) -> None:
    with client.stream("POST", "/add_one/stream", json={"input": 1}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        body = response.read()
    assert body.startswith(b"event: metadata\r\ndata: {")
    assert body.endswith(b"event: end\r\n\r\n")


def test_stream_log_sends_json_patch_ops(client: TestClient) -> None:
    events = sse_events(client, "/add_one/stream_log", {"input": 1})
    ops = [op for name, data in events if name == DATA for op in data["ops"]]
    assert {"op": "replace", "path": "/final_output", "value": 2} in ops


def test_stream_events_root_run_id_matches_metadata(client: TestClient) -> None:
    events = sse_events(client, "/add_one/stream_events", {"input": 1})
    run_id = events[0][1]["run_id"]
    data = [d for n, d in events if n == DATA]
    assert [d["event"] for d in data] == ["on_chain_start", "on_chain_stream", "on_chain_end"]
    assert all(d["run_id"] == run_id for d in data)


@pytest.mark.parametrize("endpoint", STREAMS)
def test_stream_failure_mid_stream_sends_an_error_event_without_the_message(
    client: TestClient, endpoint: str
) -> None:
    events = sse_events(client, f"/fail_stream/{endpoint}", {"input": 1})
    assert events[-1][0] == ERROR
    error = events[-1][1]
    assert error["status_code"] == 500
    assert error["message"] == "Internal Server Error"
    assert error["run_id"] == events[0][1]["run_id"]
    assert "secret" not in str(events)


def test_stream_failure_before_the_first_chunk_is_an_error_event(client: TestClient) -> None:
    # As LangServe: a 200 stream whose error event LangServe's clients turn into an
    # exception (a JSON 500 made LangChain.js report "status code 500: undefined").
    events = sse_events(client, "/fail/stream", {"input": 1})
    run_id = events[0][1]["run_id"]
    assert events == [
        (METADATA, {"run_id": run_id}),
        (ERROR, {"status_code": 500, "message": "Internal Server Error", "run_id": run_id}),
    ]


@pytest.mark.parametrize("endpoint", STREAMS)
def test_stream_rejects_a_bad_body_before_streaming(client: TestClient, endpoint: str) -> None:
    response = client.post(f"/add_one/{endpoint}", json={"input": "x"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == []  # LangServe's: relative to the input


@pytest.mark.parametrize("endpoint", ["stream_log", "stream_events"])
def test_stream_filters_must_be_lists_of_strings(client: TestClient, endpoint: str) -> None:
    response = client.post(f"/add_one/{endpoint}", json={"input": 1, "include_names": "x"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["include_names"]


def test_stream_events_allow_list_filters_by_event_name(client: TestClient) -> None:
    # LangServe compared the runnable's own run_name and failed for most runnables.
    events = sse_events(client, "/allow/stream_events", {"input": {"topic": "x"}})
    data = [d for n, d in events if n == DATA]
    assert {d["name"] for d in data} == {"/allow", "GenericFakeChatModel"}


def test_stream_log_allow_list_filters_logged_runs(client: TestClient) -> None:
    events = sse_events(client, "/allow/stream_log", {"input": {"topic": "x"}})
    ops = [op for name, data in events if name == DATA for op in data["ops"]]
    paths = {op["path"].split("/")[2] for op in ops if op["path"].startswith("/logs/")}
    assert paths == {"GenericFakeChatModel"}


def test_stream_error_event_ends_the_http_body_cleanly_over_a_socket() -> None:
    # LangServe re-raised after the error event, so uvicorn cut the chunked body
    # (httpx then raises RemoteProtocolError: "incomplete chunked read").
    with run_uvicorn("tests.live_apps:app") as url, httpx.Client(base_url=url, timeout=10) as http:
        for _ in range(2):  # the keep-alive connection stays usable
            with http.stream("POST", "/fail_stream/stream", json={"input": 1}) as response:
                body = response.read()
            last_frame = body.rsplit(b"event: ", 1)[1]
            assert last_frame.startswith(b"error\r\ndata: {")
            assert last_frame.endswith(b"}\r\n\r\n")
            assert b'"message": "Internal Server Error"' in last_frame
        assert http.post("/add_one/invoke", json={"input": 1}).json()["output"] == 2


@pytest.mark.anyio
async def test_stream_client_disconnect_closes_the_runnable_generator() -> None:
    closed = anyio.Event()
    first_chunk_sent = anyio.Event()

    async def forever(chunks):  # type: ignore[no-untyped-def]
        async for _ in chunks:
            pass
        try:
            while True:
                yield "tick"
                await anyio.sleep(0.01)
        finally:
            closed.set()

    app = FastAPI()
    add_routes(app, RunnableGenerator(forever), path="/forever")
    body_sent = False

    async def receive() -> dict[str, object]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b'{"input": 1}', "more_body": False}
        await first_chunk_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body" and b"event: data" in message.get("body", b""):  # type: ignore[operator]
            first_chunk_sent.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/forever/stream",
        "raw_path": b"/forever/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    with anyio.fail_after(5):
        await app(scope, receive, send)
        await closed.wait()
    assert closed.is_set()
