"""The server half: `add_routes` and `APIHandler` (LangServe's `langserve.server` path).

Imported lazily, as the top-level package does, so that the modules here that the
client-side also reads (`config`'s key list, through `schema`) import without FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langserve_like.server.handler import APIHandler
    from langserve_like.server.routes import add_routes

__all__ = ["APIHandler", "add_routes"]


def __getattr__(name: str) -> Any:
    if name == "APIHandler":
        from langserve_like.server.handler import APIHandler

        return APIHandler
    if name == "add_routes":
        from langserve_like.server.routes import add_routes

        return add_routes
    raise AttributeError(f"module 'langserve_like.server' has no attribute {name!r}")
