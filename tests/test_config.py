import json
import pickle
import uuid
from typing import Any

import orjson
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableConfig, RunnableLambda

import langserve_like
from langserve_like import add_routes
from langserve_like.exceptions import RequestError
from langserve_like.server.config import (
    MAX_CONFIG_HASH_LENGTH,
    decode_config_hash,
    encode_config_hash,
    new_run_id,
)
from tests import runnables
from tests.sse_util import sse_events

YO = {"configurable": {"template": "Yo {who}"}}


def echo_config(x: Any, config: RunnableConfig) -> dict[str, Any]:
    return {
        "tags": config.get("tags", []),
        "metadata": {
            k: v for k, v in config.get("metadata", {}).items() if not k.startswith("ls_")
        },
        "recursion_limit": config.get("recursion_limit"),
        "run_name": config.get("run_name"),
        "user": config.get("configurable", {}).get("user"),
    }


def add_user(config: dict[str, Any], request: Request) -> dict[str, Any]:
    user = request.headers.get("x-user")
    if user is None:
        raise HTTPException(status_code=401, detail="who are you?")
    return {
        **config,
        "tags": [*config.get("tags", []), f"user:{user}"],
        "configurable": {**config.get("configurable", {}), "user": user},
    }


async def add_user_async(config: dict[str, Any], request: Request) -> dict[str, Any]:
    return add_user(config, request)


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    add_routes(app, runnables.configurable_prompt(), path="/prompt")
    add_routes(app, runnables.configurable_prompt(), path="/locked", config_keys=())
    add_routes(app, RunnableLambda(echo_config), path="/echo", config_keys=["configurable", "tags"])
    add_routes(app, RunnableLambda(echo_config), path="/defaults")
    add_routes(app, RunnableLambda(echo_config), path="/mod", per_req_config_modifier=add_user)
    add_routes(
        app, RunnableLambda(echo_config), path="/amod", per_req_config_modifier=add_user_async
    )
    return TestClient(app)


def test_config_new_run_ids_are_random_version_4_uuids() -> None:
    run_ids = [new_run_id() for _ in range(1000)]
    assert len(set(run_ids)) == 1000
    for run_id in run_ids[:100]:
        assert run_id.version == 4
        assert run_id.variant == uuid.RFC_4122
        assert uuid.UUID(str(run_id)) == run_id
        assert hash(uuid.UUID(str(run_id))) == hash(run_id)
        assert pickle.loads(pickle.dumps(run_id)) == run_id
        assert orjson.dumps(run_id) == f'"{run_id}"'.encode()


def test_config_hash_round_trips_langserve_example() -> None:
    example = "N4Igxg9gdgZglgcwK4CcCGAjANgUxALgAJQAXAWwAcsDCQALHAT2IA8BfENtoA"
    assert decode_config_hash(example) == {"configurable": {"tmpl": "hey {x}"}}
    assert decode_config_hash(encode_config_hash(YO)) == YO


@pytest.mark.parametrize(
    "config_hash",
    ["garbage!!", "", "A" * (MAX_CONFIG_HASH_LENGTH + 1), encode_config_hash([1, 2])],  # type: ignore[arg-type]
    ids=["garbage", "empty", "too-long", "not-an-object"],
)
def test_config_hash_that_does_not_decode_is_400(config_hash: str) -> None:
    with pytest.raises(RequestError) as caught:
        decode_config_hash(config_hash)
    assert caught.value.status_code == 400


def test_config_body_configurable_reaches_the_runnable(client: TestClient) -> None:
    body = {"input": {"who": "Ann"}, "config": YO}
    assert client.post("/prompt/invoke", json=body).json()["output"]["text"] == "Yo Ann"


def test_config_hash_applies_and_an_empty_body_configurable_does_not_reset_it(
    client: TestClient,
) -> None:
    # LangServe dumped body configs with defaults, so `"configurable": {}` (which its
    # own Python client always sends) silently cancelled the hash.
    url = f"/prompt/c/{encode_config_hash(YO)}/invoke"
    for config in [
        None,
        {},
        {"configurable": {}},
        {"tags": [], "metadata": {}, "recursion_limit": 25},
    ]:
        body: dict[str, Any] = {"input": {"who": "Bob"}}
        if config is not None:
            body["config"] = config
        assert client.post(url, json=body).json()["output"]["text"] == "Yo Bob", config


def test_config_body_wins_over_hash(client: TestClient) -> None:
    url = f"/prompt/c/{encode_config_hash(YO)}/invoke"
    body = {"input": {"name": "Cy"}, "config": {"configurable": {"template": "Hi {name}"}}}
    assert client.post(url, json=body).json()["output"]["text"] == "Hi Cy"


def test_config_bad_hash_in_url_is_400(client: TestClient) -> None:
    for endpoint in ["invoke", "stream", "input_schema", "playground/"]:
        method = "GET" if endpoint in ("input_schema", "playground/") else "POST"
        response = client.request(method, f"/prompt/c/garbage!!/{endpoint}", json={"input": {}})
        assert response.status_code == 400, endpoint
        assert response.json()["detail"] == "Invalid config hash"


def test_config_wrong_value_type_is_422_at_the_config_field(client: TestClient) -> None:
    body = {"input": {"name": "x"}, "config": {"configurable": {"template": 5}}}
    response = client.post("/prompt/invoke", json=body)
    assert response.status_code == 422
    # LangServe's loc: relative to the config.
    assert response.json()["detail"][0]["loc"] == ["configurable", "template"]


def test_config_configurable_disallowed_by_config_keys_is_422(client: TestClient) -> None:
    response = client.post("/locked/invoke", json={"input": {"name": "x"}, "config": YO})
    assert response.status_code == 422
    assert "disallowed" in response.json()["detail"]


def test_config_keys_outside_config_keys_are_dropped(client: TestClient) -> None:
    body = {"input": 1, "config": {"tags": ["t"], "metadata": {"m": 1}, "recursion_limit": 5}}
    out = client.post("/defaults/invoke", json=body).json()["output"]
    assert out["tags"] == []
    assert "m" not in out["metadata"]
    assert out["recursion_limit"] == 25
    out = client.post("/echo/invoke", json=body).json()["output"]
    assert out["tags"] == ["t"]
    assert "m" not in out["metadata"]


def test_config_run_sees_langserves_run_metadata_that_clients_never_see(
    client: TestClient,
) -> None:
    # User code and tracers read these, as with LangServe; LangServe also sent them
    # to clients in stream_log and callback events, which we do not.
    out = client.post("/echo/invoke", json={"input": 1}).json()["output"]
    assert out["metadata"] == {
        "__useragent": "testclient",
        "__langserve_version": langserve_like.__version__,
        "__langserve_endpoint": "invoke",
    }
    for endpoint in ("stream_log", "stream_events"):
        events = sse_events(client, f"/echo/{endpoint}", {"input": 1})
        assert '"name": "/echo"' in json.dumps(events)
        assert all("__" not in json.dumps(_event_metadata(data)) for _, data in events)


def _event_metadata(data: Any) -> list[Any]:
    """The metadata of a stream_events event or of the log entries in a patch."""
    if not isinstance(data, dict):
        return []
    ops = data.get("ops", [])
    entries = [op["value"] for op in ops if op["path"].startswith("/logs/")]
    return [data.get("metadata")] + [e.get("metadata") for e in entries if isinstance(e, dict)]


@pytest.mark.parametrize("route", ["/mod", "/amod"])
def test_config_modifier_applies_to_invoke_batch_and_stream_alike(
    client: TestClient, route: str
) -> None:
    # In batch LangServe re-projected the modifier's output to config_keys.
    headers = {"x-user": "ann"}
    invoke = client.post(f"{route}/invoke", json={"input": 1}, headers=headers).json()["output"]
    batch = client.post(f"{route}/batch", json={"inputs": [1]}, headers=headers).json()["output"][0]
    assert invoke["user"] == batch["user"] == "ann"
    assert invoke["tags"] == batch["tags"] == ["user:ann"]
    stream = client.post(f"{route}/stream", json={"input": 1}, headers=headers)
    assert '"user":"ann"' in stream.text


def test_config_modifier_guards_schemas_and_playground(client: TestClient) -> None:
    # LangServe did not run the modifier for schema and playground endpoints.
    for path in ["/mod/input_schema", "/mod/config_schema", "/mod/playground/"]:
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"x-user": "ann"}).status_code == 200, path


def test_config_schema_endpoints_follow_the_hash(client: TestClient) -> None:
    schema = client.get(f"/prompt/c/{encode_config_hash(YO)}/input_schema").json()
    assert schema["required"] == ["who"]
    assert client.get("/prompt/input_schema").json()["required"] == ["name"]


def test_config_schema_endpoint_accepts_config_as_a_query_parameter(client: TestClient) -> None:
    response = client.get(
        "/prompt/input_schema", params={"config": '{"configurable": {"template": "Yo {who}"}}'}
    )
    assert response.json()["required"] == ["who"]


def test_config_that_breaks_the_runnable_is_422_on_schema_endpoints_too(client: TestClient) -> None:
    # LangServe answered 422 on invoke but 500 on the schema endpoints.
    bad = {"configurable": {"template": "hi {x"}}
    assert client.get(f"/prompt/c/{encode_config_hash(bad)}/input_schema").status_code == 422
    response = client.post("/prompt/invoke", json={"input": {}, "config": bad})
    assert response.status_code == 422
