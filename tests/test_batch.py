import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

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


class _OwnBatch(Runnable[int, str]):
    """A runnable that batches by itself (as a model with a batch API would)."""

    def invoke(self, value: int, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        return f"one {value}"

    async def abatch(
        self,
        inputs: list[int],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[str]:
        assert isinstance(config, list)
        return [
            f"batched {v} of {len(inputs)} ({c['metadata']['__langserve_endpoint']})"
            for v, c in zip(inputs, config, strict=True)
        ]


def _overlap_app(limit: int | None) -> tuple[TestClient, list[int]]:
    """A lambda that records how many of a batch's runs were under way at once."""
    running = [0]
    most: list[int] = []

    async def count(value: int) -> int:
        running[0] += 1
        most.append(running[0])
        for _ in range(5):  # hand the loop to the batch's other runs
            await asyncio.sleep(0)
        running[0] -= 1
        return value

    def limited(config: dict[str, Any], request: Any) -> dict[str, Any]:
        return {**config, "max_concurrency": limit} if limit else config

    app = FastAPI()
    add_routes(app, RunnableLambda(count), path="/count", per_req_config_modifier=limited)
    return TestClient(app), most


def test_batch_calls_a_runnables_own_abatch() -> None:
    app = FastAPI()
    add_routes(app, _OwnBatch(), path="/own", input_type=int, output_type=str)
    body = TestClient(app).post("/own/batch", json={"inputs": [1, 2]}).json()
    assert body["output"] == ["batched 1 of 2 (batch)", "batched 2 of 2 (batch)"]
    assert len(body["metadata"]["run_ids"]) == 2


@pytest.mark.parametrize(("limit", "expected"), [(None, 6), (2, 2)])
def test_batch_runs_inputs_together_up_to_max_concurrency(limit: int | None, expected: int) -> None:
    # As `Runnable.abatch` does: all of a batch's runs at once, or at most the
    # config's `max_concurrency` of them.
    client, most = _overlap_app(limit)
    body = client.post("/count/batch", json={"inputs": [1, 2, 3, 4, 5, 6]}).json()
    assert body["output"] == [1, 2, 3, 4, 5, 6]
    assert max(most) == expected
