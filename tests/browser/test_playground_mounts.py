"""The same route mounted four ways, opened with and without the trailing slash.

The mounts: plain `add_routes(app, ...)`; under an `APIRouter` prefix; under nested
`include_router(prefix=...)` calls; and behind a loopback proxy that strips `/proxied`
from the path, with the backend told about it only through uvicorn's `--root-path`.
Every request the page makes must stay under its own origin and route prefix.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from langserve_like.server.config import encode_config_hash
from tests.browser.apps import JOKE
from tests.browser.conftest import PROXY_PREFIX, Browsing, browsing_at
from tests.browser.test_playground_form import PIRATE, finish, invoke_from_pirate_link, record_posts

pytestmark = pytest.mark.browser

# mount name -> (fixture giving the origin, route path as the browser sees it)
MOUNTS = {
    "plain": ("server", "/joke"),
    "api_router": ("server", "/routed/joke"),
    "nested_routers": ("server", "/api/outer/inner/joke"),
    "root_path_behind_proxy": ("proxied", f"{PROXY_PREFIX}/joke"),
}
SLASHES = pytest.mark.parametrize("slash", ["/", ""], ids=["slash", "no_slash"])


def record_urls(pg: Browsing) -> list[str]:
    urls: list[str] = []
    pg.page.on("request", lambda r: urls.append(r.url))
    return urls


def open_playground(pg: Browsing, route: str, slash: str) -> Any:
    """Open `{route}/playground{slash}`; without the slash, check the redirect is relative."""
    page = pg.page
    response = page.goto(f"{pg.origin}{route}/playground{slash}")
    page.get_by_test_id("pg-ready").wait_for(state="attached")
    assert page.url == f"{pg.origin}{route}/playground/"
    if not slash:
        hop = response.request.redirected_from
        assert hop is not None
        assert hop.url == f"{pg.origin}{route}/playground"
        location = hop.response().header_value("location")
        # An absolute path would drop any prefix the server cannot see (the proxy's).
        assert location
        assert not location.startswith(("/", "http:", "https:")), location
    return page


def outside(urls: list[str], prefix: str) -> list[str]:
    return [u for u in urls if not u.startswith((prefix, "data:"))]


@SLASHES
@pytest.mark.parametrize("mount", list(MOUNTS))
def test_mount_loads_and_runs_under_its_own_prefix(
    request: pytest.FixtureRequest, browser: Any, mount: str, slash: str
) -> None:
    fixture, route = MOUNTS[mount]
    origin = request.getfixturevalue(fixture)
    with browsing_at(browser, origin) as pg:
        urls = record_urls(pg)
        page = open_playground(pg, route, slash)
        posts = record_posts(page)
        page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("mounts")
        output = page.get_by_test_id("pg-output")
        page.get_by_test_id("pg-run-stream").click()
        finish(page)
        expect(output).to_contain_text(JOKE)
        page.get_by_test_id("pg-run-invoke").click()
        finish(page)
        expect(output).to_contain_text(JOKE)
        assert posts == [
            (name, {"input": {"topic": "mounts"}, "config": {}}) for name in ("stream", "invoke")
        ]
        # The copyable curl targets the URL the browser used, prefix included.
        expect(page.get_by_test_id("pg-snippet-curl")).to_contain_text(f"'{origin}{route}/invoke'")
        assert outside(urls, f"{origin}{route}/") == []
        pg.shot(f"mount_{mount}_{slash and 'slash' or 'no_slash'}")


def test_proxied_mount_streams_as_chunks_arrive_and_escape_aborts(
    browser: Any, proxied: str
) -> None:
    with browsing_at(browser, proxied) as pg:
        page = pg.open(f"{PROXY_PREFIX}/slow")
        page.get_by_test_id("pg-input").get_by_role("textbox", name="Topic").fill("proxy")
        page.get_by_test_id("pg-run-stream").click()
        output = page.get_by_test_id("pg-output")
        # The full reply takes about 6 s: text while still running means the proxy
        # passed the events through as they came, not the buffered body at the end.
        expect(output).to_contain_text("word word")
        expect(page.get_by_test_id("pg-status")).to_have_attribute("data-status", "running")
        page.keyboard.press("Escape")
        finish(page, "idle")
        expect(page.get_by_test_id("pg-timing")).to_contain_text("stopped")
        assert output.inner_text().count("word") < 300


@SLASHES
def test_proxied_config_hash_link_opens_with_its_config(
    browser: Any, proxied: str, slash: str
) -> None:
    route = f"{PROXY_PREFIX}/configurable"
    with browsing_at(browser, proxied) as pg:
        urls = record_urls(pg)
        page = open_playground(pg, f"{route}/c/{encode_config_hash(PIRATE)}", slash)
        posts = invoke_from_pirate_link(page)
        assert posts == [("invoke", {"input": {"topic": "rum"}, "config": PIRATE})]
        assert outside(urls, f"{proxied}{route}/") == []
