import json
import logging
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel, ValidationError

from langserve_like import add_routes
from langserve_like.wire import validation_errors
from tests import runnables


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    add_routes(app, RunnableLambda(runnables.add_one), path="/add_one")
    add_routes(app, runnables.joke_chain(), path="/chat")
    add_routes(app, RunnableLambda(runnables.find_docs), path="/docs_route")
    add_routes(app, RunnableLambda(runnables.fail), path="/fail")
    add_routes(app, RunnableLambda(runnables.fail), path="/fail_open", expose_error_messages=True)
    add_routes(app, RunnableLambda(lambda x: object()), path="/unserializable")
    return TestClient(app)


def test_invoke_returns_output_and_run_id(client: TestClient) -> None:
    response = client.post("/add_one/invoke", json={"input": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["output"] == 2
    run_id = body["metadata"]["run_id"]
    assert str(uuid.UUID(run_id)) == run_id
    assert uuid.UUID(run_id).version == 4
    assert body["metadata"]["feedback_tokens"] == []
    assert "callback_events" not in body


def test_invoke_run_ids_are_fresh_per_request(client: TestClient) -> None:
    first = client.post("/add_one/invoke", json={"input": 1}).json()["metadata"]["run_id"]
    second = client.post("/add_one/invoke", json={"input": 1}).json()["metadata"]["run_id"]
    assert first != second


def test_invoke_serializes_messages_with_type_tags(client: TestClient) -> None:
    output = client.post("/chat/invoke", json={"input": {"topic": "cats"}}).json()["output"]
    assert output["type"] == "ai"
    assert output["content"] == "hello world this is a joke"
    assert output["tool_calls"] == []


def test_invoke_serializes_documents(client: TestClient) -> None:
    output = client.post("/docs_route/invoke", json={"input": "llamas"}).json()["output"]
    assert output[0] == {
        "id": None,
        "metadata": {"rank": 1},
        "page_content": "first doc about llamas",
        "type": "Document",
    }


def test_invoke_accepts_lax_input_like_langserve(client: TestClient) -> None:
    assert client.post("/add_one/invoke", json={"input": "41"}).json()["output"] == 42


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b"{not json", None),
        (b"", None),
        (b"[1, 2]", []),
        (b'{"inpt": 1}', ["input"]),
        (b'{"config": {}}', ["input"]),
        (b'{"input": "x"}', []),  # LangServe's loc: relative to the input
        (b'{"input": 1, "config": null}', ["config"]),
        (b'{"input": 1, "config": "abc"}', ["config"]),
    ],
    ids=[
        "malformed-json",
        "empty-body",
        "not-an-object",
        "misspelt-input",
        "missing-input",
        "wrong-input-type",
        "config-null",
        "config-string",
    ],
)
def test_invoke_rejects_bad_requests_with_langserves_422(
    client: TestClient, body: bytes, loc: list[str] | None
) -> None:
    response = client.post(
        "/add_one/invoke", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    if loc is None:
        assert detail == ["Invalid JSON body"]
    else:
        assert detail[0]["loc"] == loc
        assert {"type", "msg", "input", "url"} <= detail[0].keys()


@pytest.mark.parametrize("value", ["x", "41", None, [1], {"x": 1}, 1.5, 2.0, True, 2**62])
def test_invoke_typed_lambda_answers_as_its_input_model(client: TestClient, value: Any) -> None:
    # The route validates a lambda's `x: int` against the root alone: the same
    # values pass, as the same ints, and the same error items come back.
    model = RunnableLambda(runnables.add_one).get_input_schema()
    try:
        expected: dict[str, Any] = {"output": model.model_validate(value).root + 1}
    except ValidationError as exc:
        expected = {"detail": json.loads(json.dumps(validation_errors(exc)))}
    body = client.post("/add_one/invoke", json={"input": value}).json()
    assert {key: body.get(key) for key in expected} == expected


class Item(BaseModel):
    a: int


def item_values(items: list[Item]) -> list[Any]:
    return [item.a if isinstance(item, Item) else ("a dict", item["a"]) for item in items]


@pytest.mark.parametrize(
    "value", [[{"a": 1}, {"a": "2"}], [{"a": "x"}], [1], "no", [], [{"b": 1}], {"a": 1}]
)
def test_invoke_lambda_of_a_list_of_models_answers_as_its_input_model(value: Any) -> None:
    # A root holding models: they reach the lambda as LangServe handed them (plain
    # dicts), and a bad one is refused with the model's own error items.
    app = FastAPI()
    add_routes(app, RunnableLambda(item_values), path="/items")
    model = RunnableLambda(item_values).get_input_schema()
    try:
        items = model.model_validate(value).root
        expected: dict[str, Any] = {"output": [["a dict", item.a] for item in items]}
    except ValidationError as exc:
        expected = {"detail": json.loads(json.dumps(validation_errors(exc)))}
    body = TestClient(app).post("/items/invoke", json={"input": value}).json()
    assert {key: body.get(key) for key in expected} == expected


def test_invoke_ignores_unknown_keys_and_kwargs_like_langserve(client: TestClient) -> None:
    body = {"input": 1, "kwargs": {"stop": ["x"]}, "extra": True}
    assert client.post("/add_one/invoke", json=body).json()["output"] == 2


def test_invoke_rejects_a_non_json_content_type(client: TestClient) -> None:
    response = client.post(
        "/add_one/invoke", content=b"<input>1</input>", headers={"content-type": "application/xml"}
    )
    assert response.status_code == 415
    assert "Content-Type" in response.json()["detail"]


def test_invoke_accepts_curl_default_content_type(client: TestClient) -> None:
    # `curl -d '{"input": 1}'` sends application/x-www-form-urlencoded; LangServe accepted it.
    response = client.post(
        "/add_one/invoke",
        content=b'{"input": 1}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["output"] == 2


def test_invoke_failure_is_a_500_without_the_exception_text(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="langserve_like"):
        response = client.post("/fail/invoke", json={"input": 1})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")  # as LangServe's
    assert response.text == "Internal Server Error"
    assert len(response.headers["x-run-id"]) == 36
    assert "secret" not in response.text
    assert "secret database password" in caplog.text  # the traceback goes to the log


def test_invoke_failure_message_shown_when_the_app_opts_in(client: TestClient) -> None:
    response = client.post("/fail_open/invoke", json={"input": 1})
    assert response.status_code == 500
    assert response.json()["detail"] == "ValueError: secret database password in this message"


def test_invoke_server_keeps_serving_after_a_failure(client: TestClient) -> None:
    assert client.post("/fail/invoke", json={"input": 1}).status_code == 500
    assert client.post("/add_one/invoke", json={"input": 1}).json()["output"] == 2


def test_invoke_unserializable_output_is_a_clear_500(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="langserve_like"):
        response = client.post("/unserializable/invoke", json={"input": 1})
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "cannot be serialized" in caplog.text
    assert "object is not JSON serializable" in caplog.text


def test_invoke_body_over_the_limit_is_413() -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(runnables.add_one), path="/small", max_body_size=100)
    client = TestClient(app)
    response = client.post("/small/invoke", json={"input": 1, "config": {"tags": ["x" * 200]}})
    assert response.status_code == 413
    assert "100 bytes" in response.json()["detail"]
