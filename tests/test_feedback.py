import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableLambda

from langserve_like import add_routes
from langserve_like.server.models import Feedback
from tests import runnables

RUN_ID = "1e4ed270-9551-494c-88c9-4d759a70c500"


@pytest.fixture
def received() -> list[Feedback]:
    return []


@pytest.fixture
def client(received: list[Feedback], monkeypatch: pytest.MonkeyPatch) -> TestClient:
    # No LangSmith: feedback must work through the sink alone.
    for name in (
        "LANGSMITH_TRACING",
        "LANGCHAIN_TRACING_V2",
        "LANGSMITH_API_KEY",
        "LANGCHAIN_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)

    async def sink(feedback: Feedback) -> None:
        received.append(feedback)

    app = FastAPI()
    add = RunnableLambda(runnables.add_one)
    add_routes(app, add, path="/sink", feedback_sink=sink)
    add_routes(app, add, path="/no_sink", enable_feedback_endpoint=True)
    add_routes(app, add, path="/trace", enable_public_trace_link_endpoint=True)
    add_routes(
        app,
        add,
        path="/tokens",
        token_feedback_config={"key_configs": [{"key": "a"}, {"key": "b"}]},
    )
    return TestClient(app)


def test_feedback_goes_to_the_sink(client: TestClient, received: list[Feedback]) -> None:
    response = client.post(
        "/sink/feedback", json={"run_id": RUN_ID, "key": "correctness", "score": 1}
    )
    assert response.status_code == 200
    assert received == [Feedback(run_id=RUN_ID, key="correctness", score=1)]


def test_feedback_head_says_whether_feedback_works(client: TestClient) -> None:
    # LangServe's HEAD answered 200 exactly when feedback was off.
    assert client.head("/sink/feedback").status_code == 200
    assert client.head("/no_sink/feedback").status_code == 400


def test_feedback_without_sink_or_langsmith_is_400(client: TestClient) -> None:
    response = client.post("/no_sink/feedback", json={"run_id": RUN_ID, "key": "k", "score": 0})
    assert response.status_code == 400
    assert "feedback sink" in response.json()["detail"]


def test_feedback_body_errors_are_422(client: TestClient) -> None:
    assert client.post("/sink/feedback", json={"key": "k"}).status_code == 422
    assert client.post("/sink/feedback", json={"run_id": RUN_ID, "key": ""}).status_code == 422


def test_public_trace_link_without_langsmith_is_400_not_500(client: TestClient) -> None:
    # LangServe crashed with a NoneType error when only this endpoint was on.
    response = client.put("/trace/public_trace_link", json={"run_id": RUN_ID})
    assert response.status_code == 400
    assert client.head("/trace/public_trace_link").status_code == 400


def test_token_feedback_accepts_several_keys_and_returns_no_tokens_without_langsmith(
    client: TestClient,
) -> None:
    # LangServe refused a config with more than one key.
    body = client.post("/tokens/invoke", json={"input": 1}).json()
    assert body["metadata"]["feedback_tokens"] == []
    assert (
        client.post("/tokens/token_feedback", json={"token_or_url": "x", "score": 1}).status_code
        == 400
    )
