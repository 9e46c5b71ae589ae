"""Serves the static playground page of a route (placeholder until issue 4 lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

if TYPE_CHECKING:
    from langserve_like.handler import APIHandler

__all__ = ["playground_response"]


async def playground_response(
    handler: APIHandler, request: Request, file_path: str, config_hash: str = ""
) -> Response:
    """Answer GET `{path}/playground/{file_path}` for `handler`'s route."""
    if file_path not in ("", "index.html"):
        return Response("Not Found", status_code=404, media_type="text/plain")
    return HTMLResponse("<!doctype html><title>Playground</title><main>Playground</main>")
