import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableLambda

from langserve_like import add_routes
from tests import runnables


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    add_routes(app, RunnableLambda(runnables.add_one), path="/add_one", max_batch_size=3)
    add_routes(app, runnables.configurable_prompt(), path="/prompt")
    add_routes(app, RunnableLambda(runnables.fail), path="/fail")
    return TestClient(app)


def test_batch_returns_outputs_and_one_run_id_per_input(client: TestClient) -> None:
    body = client.post("/add_one/batch", json={"inputs": [1, 2]}).json()
    assert body["output"] == [2, 3]
    run_ids = body["metadata"]["run_ids"]
    assert len(set(run_ids)) == 2
    assert all(str(uuid.UUID(r)) == r and uuid.UUID(r).version == 4 for r in run_ids)
    assert [r["run_id"] for r in body["metadata"]["responses"]] == run_ids


def test_batch_of_nothing_returns_nothing(client: TestClient) -> None:
    body = client.post("/add_one/batch", json={"inputs": []}).json()
    assert body == {"output": [], "metadata": {"responses": [], "run_ids": []}}


def test_batch_applies_a_config_per_input(client: TestClient) -> None:
    body = client.post(
        "/prompt/batch",
        json={
            "inputs": [{"name": "Ann"}, {"who": "Bob"}],
            "config": [{}, {"configurable": {"template": "Yo {who}"}}],
        },
    ).json()
    assert [o["text"] for o in body["output"]] == ["Hello Ann!", "Yo Bob"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"inputs": [1, "x"]}, ["inputs", 1]),
        ({"inputs": 5}, ["inputs"]),
        ({"inputs": [1, 2, 3, 4]}, ["inputs"]),
        ({"inputs": [1], "config": [{}, {}]}, None),
        ({"inputs": [1], "config": None}, None),
        ({"inputs": [1], "config": [5]}, ["config", "list[dict[str,any]]", 0]),
        ({"input": [1]}, ["inputs"]),
    ],
    ids=[
        "invalid-item",
        "inputs-not-a-list",
        "over-the-limit",
        "config-count-mismatch",
        "config-null",
        "config-item-not-object",
        "misspelt-inputs",
    ],
)
def test_batch_rejects_bad_requests_with_422(
    client: TestClient, body: dict[str, object], where: list[object] | None
) -> None:
    # LangServe answered an invalid item or a non-list `inputs` with 500.
    response = client.post("/add_one/batch", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    if where is None:
        assert isinstance(detail, str)
    else:
        assert any(error["loc"][: len(where)] == where for error in detail)


def test_batch_failure_is_a_500_for_the_whole_batch(client: TestClient) -> None:
    response = client.post("/fail/batch", json={"inputs": [1, 2]})
    assert response.status_code == 500
    assert "secret" not in response.text
