"""Every use of FastAPI's and Starlette's internals, each in one small function.

Supported: FastAPI >= 0.115 (pyproject's floor) up to 0.165, Starlette 0.40 up to
1.10; the suite runs on FastAPI 0.165.0 and Starlette 1.10.0.
`tests/test_framework.py` checks every function here against the installed
versions and fails on a version outside that range, so an upgrade that moves one of
these internals is caught there, by name, rather than as a wrong route at runtime.

Why internals at all: one route per `add_routes` serves every endpoint from a
table (`dispatch`), which needs the path a route matches against, FastAPI's marker
for the routes of an included router, a path convertor of its own and a way to
tell FastAPI's route cache that the list changed; the body is read from the ASGI
messages directly and handed to Starlette's cache for apps that read it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette import convertors
from starlette._utils import get_route_path
from starlette.types import Scope

__all__ = [
    "SUPPORTED_FASTAPI",
    "SUPPORTED_STARLETTE",
    "has_body_limit",
    "matched_for_included_router",
    "register_convertor",
    "route_path",
    "routes_changed",
]

#: [lowest, highest] (major, minor) versions known to work.
SUPPORTED_FASTAPI = ((0, 115), (0, 165))
SUPPORTED_STARLETTE = ((0, 40), (1, 10))


#: The path routes match against: the request's, without the app's root_path.
#: Starlette's function itself, not a wrapper: every route asks it per request.
route_path: Callable[[Scope], str] = get_route_path


#: Where FastAPI keeps its per-request routing state in the scope: absent (the usual
#: request to an app's own routes) means `matched_for_included_router` is False.
FASTAPI_SCOPE = "fastapi"


def matched_for_included_router(scope: Scope) -> bool:
    """Whether FastAPI (>= 0.16x) is matching the routes of an included router under
    the prefixes it was included with, through `APIRoute.matches` and the route's
    path pattern, rather than the app's own route list."""
    return scope.get(FASTAPI_SCOPE, {}).get("effective_route_context") is not None


def register_convertor(name: str, regex: str) -> None:
    """Registers (once per name) a path convertor matching `regex`, as `{x:name}`."""
    if name in convertors.CONVERTOR_TYPES:
        return

    class Matching(convertors.Convertor[str]):
        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return value

    Matching.regex = regex
    convertors.register_url_convertor(name, Matching())


def routes_changed(router: Any) -> None:
    """Tell the router its route list was reordered in place (FastAPI >= 0.16x
    caches what it derives from the list)."""
    changed = getattr(router, "_mark_routes_changed", None)
    if changed is not None:
        changed()


def has_body_limit(route: Any) -> bool:
    """Whether FastAPI was asked to limit the route's body size (newer versions take
    a `max_body_size`), which only its own request handling enforces."""
    return getattr(route, "max_body_size", None) is not None
