"""The FastAPI/Starlette internals langserve_like relies on, each still where and
what `langserve_like.server.framework` expects, on the installed versions."""

from __future__ import annotations

import asyncio

import fastapi
import starlette
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableLambda
from starlette.requests import Request
from starlette.routing import compile_path

from langserve_like import add_routes
from langserve_like.server import framework
from langserve_like.server.requests import read_body


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def test_framework_installed_versions_are_supported() -> None:
    # Outside the range, review every function of `framework` before widening it.
    low, high = framework.SUPPORTED_FASTAPI
    assert low <= _version(fastapi.__version__) <= high, fastapi.__version__
    low, high = framework.SUPPORTED_STARLETTE
    assert low <= _version(starlette.__version__) <= high, starlette.__version__


def test_framework_route_path_strips_root_path() -> None:
    scope = {"type": "http", "path": "/api/joke/invoke", "root_path": "/api"}
    assert framework.route_path(scope) == "/joke/invoke"


def test_framework_convertor_is_usable_in_a_route_path() -> None:
    framework.register_convertor("test_framework_ab", "(?:a|b)")
    framework.register_convertor("test_framework_ab", "(?:a|b)")  # a second time: no error
    regex, _, convertors = compile_path("/x/{name:test_framework_ab}")
    assert regex.match("/x/a") is not None
    assert regex.match("/x/c") is None
    assert convertors["name"].convert("b") == "b"


def test_framework_route_without_limit_has_none() -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x), path="/plain")
    route = next(r for r in app.routes if getattr(r, "served_paths", None))
    assert not framework.has_body_limit(route)


def test_framework_a_read_body_is_what_request_body_returns() -> None:
    # `read_body` reads the ASGI messages itself and leaves the body where
    # Starlette's `Request.body()` caches it, for a per_req_config_modifier.
    messages = [{"type": "http.request", "body": b'{"input": 1}', "more_body": False}]

    async def receive() -> dict[str, object]:
        return messages.pop()  # a second read fails: the cached body must be used

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)

    async def read() -> tuple[object, bytes]:
        return await read_body(request, 1000), await request.body()

    assert asyncio.run(read()) == ({"input": 1}, b'{"input": 1}')


def test_framework_routes_changed_keeps_reordered_routes_served() -> None:
    # add_routes moves its documentation routes behind the real ones and tells the
    # router; a router that caches its routes must still serve in the new order.
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x + 1), path="/one")
    add_routes(app, RunnableLambda(lambda x: x * 2), path="/two")
    assert hasattr(app.router, "_mark_routes_changed") or _version(fastapi.__version__) < (0, 160)
    with TestClient(app) as client:
        assert client.post("/two/invoke", json={"input": 3}).json()["output"] == 6


def test_framework_included_router_is_matched_through_fastapi() -> None:
    router = APIRouter()
    add_routes(router, RunnableLambda(lambda x: x + 1), path="/inc")
    app = FastAPI()
    app.include_router(router, prefix="/v1")
    seen = []

    @app.middleware("http")
    async def record(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        seen.append(framework.matched_for_included_router(request.scope))
        return response

    with TestClient(app) as client:
        assert client.post("/v1/inc/invoke", json={"input": 1}).json()["output"] == 2
    assert seen == [True] or _version(fastapi.__version__) < (0, 160)
