"""Nothing internal leaks: no `__` metadata, server or package versions, client
user agent or exception text in any response, SSE event or callback event; CORS is
left to the app; the playground sends a strict Content-Security-Policy.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from importlib.metadata import version

import httpx
import pytest
from fastapi import FastAPI
from langchain_core.runnables import RunnableLambda
from starlette.middleware.cors import CORSMiddleware

import langserve_like
from langserve_like import add_routes
from tests.reliability_apps import CHAIN_INTERNAL, SECRET, TENANT_SECRET
from tests.servers import run_uvicorn

pytestmark = pytest.mark.live

USER_AGENT = "curious-client/9.8.7-unique-agent"
POST_ENDPOINTS = ("invoke", "batch", "stream", "stream_log", "stream_events")
ROUTES = {"/chain": {"topic": "cats"}, "/fail": "other", "/fail_midway": "rate_limit"}
VERSIONS = {
    "langserve_like": langserve_like.__version__,
    "langchain-core": version("langchain-core"),
    "fastapi": version("fastapi"),
    "starlette": version("starlette"),
    "pydantic": version("pydantic"),
    "uvicorn": version("uvicorn"),
    "python": sys.version.split()[0],
}
FORBIDDEN_TEXT = (
    SECRET,
    TENANT_SECRET,
    CHAIN_INTERNAL,
    USER_AGENT,
    "ValueError",
    "RateLimitError",
    "Traceback",
    "langserve_like",
)
INTERNAL_KEY = re.compile(r'"__[A-Za-z]')


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with (
        run_uvicorn("tests.reliability_apps:secrets_app") as url,
        httpx.Client(base_url=url, timeout=30, headers={"user-agent": USER_AGENT}) as c,
    ):
        yield c


def assert_nothing_leaks(response: httpx.Response) -> None:
    text = response.text
    for needle in FORBIDDEN_TEXT:
        assert needle not in text, f"{needle!r} leaked: {text[:300]}"
    assert not INTERNAL_KEY.search(text), f"internal key leaked: {text[:300]}"
    for name, value in response.headers.items():
        assert USER_AGENT not in value
        for package, package_version in VERSIONS.items():
            assert package_version not in value, f"{package} version in header {name}"


def _body(route: str, endpoint: str) -> dict[str, object]:
    value = ROUTES[route]
    if endpoint == "batch":
        return {"inputs": [value, value]}
    body: dict[str, object] = {"input": value}
    if endpoint != "invoke":
        body["callback_events"] = True
    return body


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_secrets_no_internal_data_in_responses_or_events(
    client: httpx.Client, route: str, endpoint: str
) -> None:
    response = client.post(f"{route}/{endpoint}", json=_body(route, endpoint))
    if route == "/chain":
        assert response.status_code == 200
        assert "tenant_visible" in response.text or endpoint in ("invoke", "batch", "stream")
    assert_nothing_leaks(response)


def test_secrets_callback_events_are_sent_and_clean(client: httpx.Client) -> None:
    """The chain route really does send callback events, so the check above means something."""
    invoke = client.post("/chain/invoke", json={"input": {"topic": "cats"}})
    assert invoke.json()["callback_events"]
    stream = client.post("/chain/stream", json={"input": {"topic": "x"}, "callback_events": True})
    assert "event: callback" in stream.text
    failing = client.post("/fail_midway/stream", json={"input": "other", "callback_events": True})
    assert "event: callback" in failing.text
    assert "event: error" in failing.text
    for response in (invoke, stream, failing):
        assert_nothing_leaks(response)


@pytest.mark.parametrize(
    "path",
    [
        "/chain/input_schema",
        "/chain/output_schema",
        "/chain/config_schema",
        "/chain/playground/",
        "/chain/playground/info.json",
        "/no/such/route",
    ],
)
def test_secrets_get_endpoints_leak_nothing(client: httpx.Client, path: str) -> None:
    assert_nothing_leaks(client.get(path))


def test_secrets_no_cors_headers_by_default(client: httpx.Client) -> None:
    origin = {"origin": "https://evil.example"}
    preflight = client.options(
        "/chain/invoke", headers={**origin, "access-control-request-method": "POST"}
    )
    assert preflight.status_code >= 400
    post = client.post("/chain/invoke", json={"input": {"topic": "x"}}, headers=origin)
    assert post.status_code == 200
    for response in (preflight, post):
        assert not any(name.startswith("access-control-") for name in response.headers)


@pytest.mark.anyio
async def test_secrets_cors_is_the_apps_choice() -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda text: text), path="/echo")
    app.add_middleware(CORSMiddleware, allow_origins=["https://ok.example"], allow_methods=["POST"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as local:
        for origin, allowed in (("https://ok.example", True), ("https://evil.example", False)):
            response = await local.options(
                "/echo/invoke",
                headers={"origin": origin, "access-control-request-method": "POST"},
            )
            granted = response.headers.get("access-control-allow-origin")
            assert (granted == origin) is allowed


def _csp(response: httpx.Response) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {d[0]: d[1:] for d in directives}


@pytest.mark.parametrize("path", ["/chain/playground/", "/chain/playground/info.json"])
def test_secrets_playground_sends_strict_csp(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    csp = _csp(response)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no inline or eval'd script, no CDN
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] in (["'none'"], ["'self'"])
    assert csp["connect-src"] == ["'self'"]
    for sources in csp.values():
        assert "*" not in sources
        assert "'unsafe-inline'" not in sources
        assert "'unsafe-eval'" not in sources
    assert response.headers["x-content-type-options"] == "nosniff"


def test_secrets_playground_assets_carry_csp_too(client: httpx.Client) -> None:
    page = client.get("/chain/playground/").text
    scripts = re.findall(r'src="\.?/?([A-Za-z0-9_.-]+\.js)"', page)
    assert scripts, "the playground page loads its script from a file"
    asset = client.get(f"/chain/playground/{scripts[0]}")
    assert asset.status_code == 200
    assert _csp(asset)["script-src"] == ["'self'"]
