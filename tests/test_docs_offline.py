"""`/docs` of the apps the CLI builds loads nothing from another origin, so it works offline."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableLambda
from starlette.applications import Starlette

from langserve_like.cli import build_app, route_summary
from langserve_like.demo import create_app


def _apps() -> list[tuple[str, Starlette]]:
    served = build_app(RunnableLambda(lambda x: x), target="chain.py:chain", path="/echo")
    return [("demo", create_app(delay=0)), ("serve", served)]


@pytest.mark.parametrize(("name", "app"), _apps())
def test_docs_page_loads_only_same_origin_assets_that_are_served(name: str, app: Starlette) -> None:
    client = TestClient(app, base_url="http://testserver")
    page = client.get("/docs")
    assert page.status_code == 200, name
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*["']([^"']+)["']""", page.text)
    assets = [urljoin("http://testserver/docs", a or b) for a, b in urls]

    assert len(assets) >= 3  # the script, the stylesheet and the OpenAPI document
    for asset in assets:
        assert urlsplit(asset).netloc == "testserver", asset
        answer = client.get(urlsplit(asset).path)
        assert answer.status_code == 200, asset
        assert answer.content


def test_docs_offline_is_named_in_the_start_up_summary() -> None:
    summary = route_summary(create_app(delay=0), "http://127.0.0.1:8000")

    assert "API docs: http://127.0.0.1:8000/docs" in summary
