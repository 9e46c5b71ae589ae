"""Serve LangChain runnables over HTTP, wire-compatible with LangServe.

The bare package is the client (`RemoteRunnable`); the server half (`add_routes`,
`APIHandler`) needs the `server` extra and is imported lazily, so
`from langserve_like import RemoteRunnable` works without FastAPI installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langserve_like.schema import CustomUserType
from langserve_like.serialization import Serializer, WellKnownLCSerializer

if TYPE_CHECKING:
    from langserve_like.client import RemoteRunnable
    from langserve_like.runs import Runs
    from langserve_like.server.handler import APIHandler
    from langserve_like.server.routes import add_routes

__version__ = "0.1.0"

__all__ = [
    "APIHandler",
    "CustomUserType",
    "RemoteRunnable",
    "Runs",
    "Serializer",
    "WellKnownLCSerializer",
    "__version__",
    "add_routes",
]

_LAZY = {
    "RemoteRunnable": ("langserve_like.client", False),
    "APIHandler": ("langserve_like.server.handler", True),
    "add_routes": ("langserve_like.server.routes", True),
    "Runs": ("langserve_like.runs", False),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'langserve_like' has no attribute {name!r}")
    module_name, needs_server = _LAZY[name]
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if needs_server:
            raise ImportError(
                f"langserve_like.{name} needs the server extra: "
                "pip install 'langserve-like[server]'"
            ) from exc
        raise
    return getattr(module, name)
