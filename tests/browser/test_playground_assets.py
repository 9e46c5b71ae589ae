"""How the playground page loads in a real Chromium: at most four same-origin static
requests, nothing from another origin, no console errors, and the
content-hashed assets taken from the browser cache on reload.

The server here is the browser tests' app behind a recorder of the paths it receives,
run by uvicorn on a real loopback socket, so "no request reached the server" is
observed on the server rather than inferred from the browser.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.browser.conftest import Browsing, new_browsing

pytestmark = pytest.mark.browser

# Resource types that are page assets. The page's fetches (info.json and the route's
# schemas) are API calls the app makes once it runs, not assets of the page.
STATIC = ("document", "script", "stylesheet")
API_CALLS = {"info.json", "input_schema", "output_schema", "config_schema"}
HASHED = re.compile(r"(app|style|theme)\.[0-9a-f]{10}\.(?:js|css)")


def hashed_stems(names: list[str]) -> list[str]:
    """`app`, `style`, `theme` for each content-hashed asset name among `names`, sorted."""
    return sorted(m[1] for m in map(HASHED.fullmatch, names) if m)


@dataclass
class Recorder:
    """ASGI wrapper noting each request path when it arrives, before any response."""

    app: ASGIApp
    paths: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@dataclass
class Site:
    origin: str
    recorder: Recorder


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    from tests.browser.apps import app

    recorder = Recorder(app)
    # The socket listens before uvicorn starts, so the browser's first connection waits
    # in the backlog instead of racing the server's startup.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(recorder, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield Site(origin=f"http://127.0.0.1:{port}", recorder=recorder)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def pg_site(browser: Any, site: Site) -> Iterator[Browsing]:
    browsing = new_browsing(browser, site.origin)
    yield browsing
    browsing.page.context.close()
    assert browsing.unexpected() == []


def load(pg: Browsing, navigate: Callable[[], object]) -> list[Any]:
    """Every request the page makes from `navigate()` until both `load` and `pg-ready`."""
    requests: list[Any] = []

    def record(request: Any) -> None:
        requests.append(request)

    pg.page.on("request", record)
    navigate()  # a goto or reload that returns on the `load` event
    pg.page.get_by_test_id("pg-ready").wait_for(state="attached")
    pg.page.remove_listener("request", record)
    return requests


@pytest.mark.parametrize("route", ["/joke", "/chat", "/api/outer/inner/joke"])
def test_page_load_makes_at_most_four_static_requests_to_its_own_origin(
    pg_site: Browsing, site: Site, route: str
) -> None:
    url = f"{site.origin}{route}/playground/"
    requests = load(pg_site, lambda: pg_site.page.goto(url, wait_until="load"))
    urls = [r.url for r in requests]
    assert all(url.startswith(f"{site.origin}/") for url in urls), urls
    static = [r.url.rsplit("/", 1)[-1] for r in requests if r.resource_type in STATIC]
    assert len(static) <= 4, static
    assert static[0] == ""  # the document itself
    assert hashed_stems(static[1:]) == ["app", "style", "theme"]
    others = {
        r.url.split("?")[0].rsplit("/", 1)[-1] for r in requests if r.resource_type not in STATIC
    }
    assert others <= API_CALLS, others
    assert {"info.json", "input_schema"} <= others


def test_page_reload_takes_hashed_assets_from_the_browser_cache(
    pg_site: Browsing, site: Site
) -> None:
    url = f"{site.origin}/joke/playground/"
    site.recorder.paths.clear()
    load(pg_site, lambda: pg_site.page.goto(url, wait_until="load"))
    first = [p.rsplit("/", 1)[-1] for p in site.recorder.paths]
    assert hashed_stems(first) == ["app", "style", "theme"]

    site.recorder.paths.clear()
    requests = load(pg_site, lambda: pg_site.page.reload(wait_until="load"))
    again = [p.rsplit("/", 1)[-1] for p in site.recorder.paths]
    # index.html is revalidated and the app fetched its info again, so the page really
    # reloaded; the hashed assets it ran were never asked for.
    assert "" in again
    assert "info.json" in again
    assert hashed_stems(again) == []
    # The browser did use them: Playwright reports the cache hits as requests too.
    used = {r.url.rsplit("/", 1)[-1] for r in requests if r.resource_type in STATIC[1:]}
    assert used == {n for n in first if HASHED.fullmatch(n)}
