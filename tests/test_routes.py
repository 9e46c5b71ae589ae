import importlib
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableLambda

from langserve_like import add_routes
from langserve_like.server.config import encode_config_hash
from tests import runnables

ADD_ONE = RunnableLambda(runnables.add_one)


def paths(app: FastAPI) -> set[str]:
    return {getattr(route, "path", "") for route in app.routes}


def test_add_routes_mounts_every_endpoint_at_path_and_under_config_hash() -> None:
    app = FastAPI()
    add_routes(app, ADD_ONE, path="/add_one")
    mounted = paths(app)
    for endpoint in [
        "invoke",
        "batch",
        "stream",
        "stream_log",
        "stream_events",
        "input_schema",
        "output_schema",
        "config_schema",
    ]:
        assert f"/add_one/{endpoint}" in mounted
        assert f"/add_one/c/{{config_hash}}/{endpoint}" in mounted
    playground = TestClient(app).get("/add_one/playground/")
    assert playground.status_code == 200
    assert playground.headers["content-type"].startswith("text/html")


def test_add_routes_does_not_mount_feedback_endpoints_by_default() -> None:
    # LangServe mounted /token_feedback on every route.
    client = TestClient(FastAPI())
    add_routes(client.app, ADD_ONE, path="/add_one")  # type: ignore[arg-type]
    for path in ["/add_one/token_feedback", "/add_one/feedback", "/add_one/public_trace_link"]:
        assert client.post(path, json={}).status_code in (404, 405)


def test_add_routes_disabled_endpoints_are_not_mounted() -> None:
    app = FastAPI()
    add_routes(app, ADD_ONE, path="/x", disabled_endpoints=["stream_log", "config_hashes"])
    client = TestClient(app)
    assert client.post("/x/stream_log", json={"input": 1}).status_code == 404
    assert client.post("/x/c/abc/invoke", json={"input": 1}).status_code == 404
    assert client.post("/x/invoke", json={"input": 1}).status_code == 200


def test_add_routes_enabled_endpoints_mounts_only_those() -> None:
    app = FastAPI()
    add_routes(app, ADD_ONE, path="/x", enabled_endpoints=["invoke", "feedback"])
    client = TestClient(app)
    assert client.post("/x/invoke", json={"input": 1}).status_code == 200
    assert client.post("/x/stream", json={"input": 1}).status_code == 404
    # LangServe accepted "feedback" here and ignored it.
    assert "/x/feedback" in paths(app)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"path": "x"}, ValueError),
        ({"path": "/x", "config_keys": ["run_name"]}, ValueError),
        (
            {"path": "/x", "enabled_endpoints": ["invoke"], "disabled_endpoints": ["batch"]},
            ValueError,
        ),
        ({"path": "/x", "enabled_endpoints": ["nope"]}, ValueError),
        ({"path": "/x", "playground_type": "fancy"}, ValueError),
    ],
    ids=[
        "no-leading-slash",
        "run-name-configurable",
        "enabled-and-disabled",
        "unknown-name",
        "bad-playground-type",
    ],
)
def test_add_routes_rejects_bad_options(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        add_routes(FastAPI(), ADD_ONE, **kwargs)  # type: ignore[arg-type]


def test_add_routes_rejects_a_non_runnable() -> None:
    with pytest.raises(TypeError, match="Runnable"):
        add_routes(FastAPI(), runnables.add_one, path="/x")  # type: ignore[arg-type]


def test_add_routes_rejects_the_same_path_twice() -> None:
    app = FastAPI()
    add_routes(app, ADD_ONE, path="/x")
    with pytest.raises(ValueError, match="already served"):
        add_routes(app, ADD_ONE, path="/x")


def test_add_routes_strips_a_trailing_slash() -> None:
    # LangServe mounted /x//invoke for path="/x/".
    app = FastAPI()
    add_routes(app, ADD_ONE, path="/x/")
    assert TestClient(app).post("/x/invoke", json={"input": 1}).json()["output"] == 2


def test_add_routes_works_on_nested_routers_and_names_runs_after_the_prefix() -> None:
    inner = APIRouter(prefix="/inner")
    handler = add_routes(inner, ADD_ONE, path="/add_one")
    outer = APIRouter(prefix="/outer")
    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer)
    client = TestClient(app)
    assert client.post("/outer/inner/add_one/invoke", json={"input": 1}).json()["output"] == 2
    assert handler.run_name == "/inner/add_one"
    docs = client.get("/openapi.json").json()["paths"]
    assert "/outer/inner/add_one/invoke" in docs


def test_add_routes_honours_root_path() -> None:
    # Behind a proxy that strips /proxy, uvicorn --root-path /proxy sets scope["root_path"].
    app = FastAPI()
    add_routes(app, ADD_ONE, path="/add_one")
    client = TestClient(app, root_path="/proxy")
    assert client.post("/add_one/invoke", json={"input": 1}).json()["output"] == 2
    assert client.post("/proxy/add_one/invoke", json={"input": 1}).json()["output"] == 2


def test_add_routes_dependencies_guard_every_endpoint() -> None:
    def api_key(x_api_key: str = Header(default="")) -> None:
        if x_api_key != "secret":
            raise HTTPException(status_code=401, detail="bad key")

    app = FastAPI()
    add_routes(app, ADD_ONE, path="/x", dependencies=[Depends(api_key)])
    client = TestClient(app)
    for method, path in [
        ("POST", "/x/invoke"),
        ("POST", "/x/stream"),
        ("GET", "/x/input_schema"),
        ("GET", "/x/playground/"),
    ]:
        assert client.request(method, path, json={"input": 1}).status_code == 401
    ok = client.post("/x/invoke", json={"input": 1}, headers={"x-api-key": "secret"})
    assert ok.json()["output"] == 2


def test_add_routes_unknown_path_and_wrong_method() -> None:
    app = FastAPI()
    add_routes(app, ADD_ONE, path="/x")
    client = TestClient(app)
    assert client.post("/x/nope", json={}).status_code == 404
    assert client.get("/x/invoke").status_code == 405
    assert client.post("/x/c//invoke", json={"input": 1}).status_code == 404


def _mounted(how: str, *runnable_paths: str) -> tuple[FastAPI, str]:
    """An app serving ADD_ONE at each path, on the app itself or an included router."""
    app = FastAPI()
    target: FastAPI | APIRouter = app if how == "app" else APIRouter(prefix="/api")
    for path in runnable_paths:
        add_routes(target, ADD_ONE, path=path)

    # Registered after add_routes, under the same path: must still be reachable.
    @target.get("/a/extra")
    def extra() -> dict[str, str]:
        return {"extra": "yes"}

    if isinstance(target, APIRouter):
        app.include_router(target)
        return app, "/api"
    return app, ""


@pytest.mark.parametrize("how", ["app", "router"])
def test_add_routes_later_routes_under_the_same_path_still_answer(how: str) -> None:
    app, prefix = _mounted(how, "/a", "/b")
    client = TestClient(app)
    assert client.get(f"{prefix}/a/extra").json() == {"extra": "yes"}
    assert client.post(f"{prefix}/b/invoke", json={"input": 1}).json()["output"] == 2
    assert client.post(f"{prefix}/a/c/abc/nope", json={"input": 1}).status_code == 404


@pytest.mark.parametrize("how", ["app", "router"])
def test_add_routes_wrong_method_is_405_naming_the_allowed_one(how: str) -> None:
    app, prefix = _mounted(how, "/a")
    client = TestClient(app)
    for method, path, allowed in [
        ("GET", "/a/invoke", "POST"),
        ("PUT", "/a/c/abc/stream", "POST"),
        ("POST", "/a/input_schema", "GET"),
        ("POST", "/a/playground/", "GET, HEAD"),
    ]:
        response = client.request(method, prefix + path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allowed
        assert response.json() == {"detail": "Method Not Allowed"}


@pytest.mark.parametrize("how", ["app", "router"])
def test_add_routes_share_link_paths_reach_the_modifier_with_their_hash(how: str) -> None:
    seen: list[dict[str, str]] = []

    def modifier(config: dict[str, object], request: object) -> dict[str, object]:
        seen.append(dict(request.path_params))  # type: ignore[attr-defined]
        return config

    app = FastAPI()
    target: FastAPI | APIRouter = app if how == "app" else APIRouter(prefix="/api")
    add_routes(target, ADD_ONE, path="/a", per_req_config_modifier=modifier)
    if isinstance(target, APIRouter):
        app.include_router(target)
    prefix = "" if how == "app" else "/api"
    client = TestClient(app)
    config_hash = encode_config_hash({"tags": ["t"]})
    assert client.post(f"{prefix}/a/invoke", json={"input": 1}).status_code == 200
    assert client.post(f"{prefix}/a/c/{config_hash}/invoke", json={"input": 1}).status_code == 200
    assert client.get(f"{prefix}/a/c/{config_hash}/playground/").status_code == 200
    assert seen == [{}, {"config_hash": config_hash}, {"config_hash": config_hash, "file_path": ""}]


def test_add_routes_playground_without_slash_redirects() -> None:
    app = FastAPI()
    add_routes(app, ADD_ONE, path="/x")
    client = TestClient(app)
    response = client.get("/x/playground?a=1", follow_redirects=False)
    assert response.status_code == 307
    # Relative, so it stays right behind a proxy that rewrites the path.
    assert response.headers["location"] == "playground/?a=1"
    assert client.get("/x/playground").url.path == "/x/playground/"


def test_add_routes_fails_at_startup_when_the_input_schema_cannot_be_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Postponed annotations leave langchain-core's model with unresolved names; every
    # request would be a 500, so say so when the route is added instead.
    module = tmp_path / "postponed_chain.py"
    module.write_text(
        "from __future__ import annotations\n"
        "from langchain_core.messages import AnyMessage\n"
        "from langchain_core.runnables import RunnableLambda\n"
        "def count(messages: list[AnyMessage]) -> int:\n"
        "    return len(messages)\n"
        "runnable = RunnableLambda(count)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    postponed = importlib.import_module("postponed_chain")
    with pytest.raises(TypeError, match="from __future__ import annotations"):
        add_routes(FastAPI(), postponed.runnable, path="/count")
    add_routes(FastAPI(), postponed.runnable, path="/count", input_type=list[AnyMessage])
