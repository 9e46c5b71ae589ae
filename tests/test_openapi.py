"""The OpenAPI document: typed bodies for every endpoint, names unique per route.

The snapshot keeps what langserve_like decides (paths, operations, our request and
response models) and leaves out the schemas langchain-core and pydantic generate for
their own classes, which change with their versions. Regenerate it with
`UPDATE_SNAPSHOTS=1 pytest tests/test_openapi.py` and review the diff.
"""

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.openapi_zoo import build_app

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"
OUR_MODELS = (
    "InvokeRequest",
    "BatchRequest",
    "StreamRequest",
    "StreamLogRequest",
    "StreamEventsRequest",
    "InvokeResponse",
    "BatchResponse",
)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(build_app())


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    operations = {
        f"{method.upper()} {path}": {
            "tags": op.get("tags"),
            "summary": op.get("summary"),
            "body": op.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema"),
            "responses": {
                code: sorted(r.get("content", {})) for code, r in op["responses"].items()
            },
        }
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    }
    schemas = document["components"]["schemas"]
    ours = {name: schema for name, schema in schemas.items() if name.endswith(OUR_MODELS)}
    per_route = [
        name for name in schemas if name.endswith((*OUR_MODELS, "Input", "Output", "Config"))
    ]
    return {"operations": operations, "our_models": ours, "model_names": sorted(per_route)}


def test_openapi_matches_the_snapshot(document: dict[str, Any]) -> None:
    summary = _summary(document)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    assert summary == json.loads(SNAPSHOT.read_text())


def test_openapi_documents_a_typed_body_for_every_post_endpoint(document: dict[str, Any]) -> None:
    posts = [(path, ops["post"]) for path, ops in document["paths"].items() if "post" in ops]
    assert len(posts) == 11 * 5 * 2  # 11 routes, 5 POST endpoints, with and without /c/{hash}
    for path, op in posts:
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.split("/")[-1].endswith(OUR_MODELS), path


def test_openapi_gives_each_route_its_own_model_names(document: dict[str, Any]) -> None:
    # LangServe named both anonymous lambdas' outputs "RunnableLambdaOutput".
    schemas = document["components"]["schemas"]
    a = schemas["lambda_aInvokeResponse"]["properties"]["output"]
    b = schemas["lambda_bInvokeResponse"]["properties"]["output"]
    assert a != b
    assert "nested_route_nameInvokeRequest" in schemas


def test_openapi_docs_page_loads(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/lambda_a", {"input": 2}, 4),
        ("/lambda_b", {"input": 2}, "2!"),
        ("/typed_dict", {"input": {"left": 1, "right": 2}}, {"sum": 3}),
        ("/pydantic", {"input": {"text": "why"}}, "answer to why"),
        ("/custom_type", {"input": {"filename": "a.txt"}}, "Upload:a.txt"),
        ("/messages", {"input": [{"type": "human", "content": "hi"}]}, 1),
        ("/dict", {"input": {"b": 1, "a": 2}}, {"keys": ["a", "b"]}),
    ],
)
def test_openapi_zoo_routes_invoke(client: TestClient, path: str, body: Any, expected: Any) -> None:
    # Two anonymous lambdas on two paths: LangServe's later route answered 500.
    response = client.post(f"{path}/invoke", json=body)
    assert response.status_code == 200
    assert response.json()["output"] == expected
