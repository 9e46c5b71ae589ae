from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from langserve_like import add_routes
from tests import runnables
from tests.sse_util import sse_events


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    add_routes(app, runnables.joke_chain(), path="/chat", include_callback_events=True)
    add_routes(app, runnables.joke_chain(), path="/quiet")
    return TestClient(app)


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def test_callback_events_work_with_a_chat_model(client: TestClient) -> None:
    # With langchain-core 1.x LangServe answered 500 for any chain with a model.
    response = client.post("/chat/invoke", json={"input": {"topic": "cats"}})
    assert response.status_code == 200
    events = response.json()["callback_events"]
    assert _types(events)[0] == "on_chain_start"
    assert "on_chat_model_start" in _types(events)
    assert "on_llm_end" in _types(events)
    assert "__" not in response.text  # no internal metadata


def test_callback_events_per_batch_item(client: TestClient) -> None:
    body = client.post("/chat/batch", json={"inputs": [{"topic": "a"}, {"topic": "b"}]}).json()
    assert len(body["callback_events"]) == 2
    assert all("on_chat_model_start" in _types(events) for events in body["callback_events"])


def test_callback_events_are_streamed_only_to_clients_that_ask(client: TestClient) -> None:
    body = {"input": {"topic": "cats"}}
    plain = sse_events(client, "/chat/stream", body)
    assert "callback" not in {name for name, _ in plain}
    asked = sse_events(client, "/chat/stream", {**body, "callback_events": True})
    callbacks = [data for name, data in asked if name == "callback"]
    assert "on_chat_model_start" in _types(callbacks)
    assert asked[-1][0] == "end"


def test_callback_events_absent_unless_enabled(client: TestClient) -> None:
    body = client.post("/quiet/invoke", json={"input": {"topic": "cats"}}).json()
    assert "callback_events" not in body
    streamed = sse_events(
        client, "/quiet/stream", {"input": {"topic": "cats"}, "callback_events": True}
    )
    assert "callback" not in {name for name, _ in streamed}
