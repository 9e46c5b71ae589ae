"""One route per `add_routes` that serves all of a runnable's endpoints from a table.

Every request is offered to an app's routes in turn, and each route passed costs
it a regular-expression match and two enum lookups. LangServe mounts ~30 routes per
runnable, so a runnable mounted fifth made each of its requests pass ~120 routes
first; a `RunnableRoute` costs the requests of other runnables one string
comparison, and finds its own endpoint with a dict lookup.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the
# route's endpoint at runtime.

import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.params import Depends
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from langserve_like.server.framework import (
    FASTAPI_SCOPE,
    has_body_limit,
    matched_for_included_router,
    register_convertor,
    route_path,
)
from langserve_like.server.responses import TRANSLATED, JSONBody, translate

__all__ = ["PLAYGROUND_FILES", "RunnableRoute", "Table", "Target", "add_runnable_route", "serves"]

# Module globals: looking up an enum member costs several times a global's lookup,
# and every request asks each route in turn.
_NO_MATCH = Match.NONE
_PARTIAL = Match.PARTIAL
_FULL = Match.FULL

# The path parameter of the one real route per `add_routes`: what follows `path/`.
_PARAM = "langserve_like_endpoint"
# Where `RunnableRoute.matches` leaves what it found, so the request is parsed once.
_FOUND = "langserve_like.target"
PLAYGROUND_FILES = "playground/"


@dataclass(frozen=True)
class Target:
    """One endpoint of the dispatch table: its methods and how to call it.

    `endpoint`, when set, is the same endpoint as `call` as a bound `APIHandler`
    method without its `translated` wrapper (`responses.untranslated`), taking the
    request and the config hash as `config_hash=`: the route calls it directly and
    translates errors itself, two coroutines less per request than through `call`.
    """

    Call = Callable[[Request, str, str], Awaitable[Response]]  # (request, hash, file)
    Endpoint = Callable[..., Awaitable[Response]]  # (request, *, config_hash)

    methods: frozenset[str]
    call: Call
    endpoint: "Endpoint | None" = None


Table = dict[str, Target]
_Found = tuple[Target, str, "str | None"]  # target, config hash, playground file
_Direct = Callable[[Request], Awaitable[Response]]


def _find(table: Table, rest: str, hashes: bool) -> _Found | None:
    """`c/HASH/playground/app.js` -> (playground target, "HASH", "app.js"), else None."""
    config_hash = ""
    if rest.startswith("c/") and hashes:
        config_hash, slash, rest = rest[2:].partition("/")
        if not config_hash or not slash:
            return None
    file_path = None
    if rest.startswith(PLAYGROUND_FILES):
        rest, file_path = PLAYGROUND_FILES, rest[len(PLAYGROUND_FILES) :]
    target = table.get(rest)
    return None if target is None else (target, config_hash, file_path)


def _path_params(scope: Scope, config_hash: str, file_path: str | None) -> dict[str, Any]:
    # The parameters the per-endpoint routes of earlier versions had, for apps that read
    # `request.path_params` (in a per_req_config_modifier, say).
    given = scope.get("path_params")  # usually none: no comprehension to run then
    params = {k: v for k, v in given.items() if k != _PARAM} if given else {}
    if config_hash:
        params["config_hash"] = config_hash
    if file_path is not None:
        params["file_path"] = file_path
    return params


def _convertor(table: Table, hashes: bool) -> str:
    """Registers (once) a path convertor matching exactly the table's endpoints.

    FastAPI matches the routes of an included router by their regular expression,
    not by `RunnableRoute.matches`, so the route's path must not match anything
    else under `path/` (a user's own `path/extra` route registered later must win).
    """
    names = sorted(re.escape(n) for n in table if n != PLAYGROUND_FILES)
    if PLAYGROUND_FILES in table:
        names.append(re.escape(PLAYGROUND_FILES) + ".*")
    regex = ("(?:c/[^/]+/)?" if hashes else "") + "(?:" + "|".join(names) + ")"
    key = "langserve_like_" + hashlib.sha256(regex.encode()).hexdigest()[:12]
    register_convertor(key, regex)
    return key


class RunnableRoute(APIRoute):
    """The one real route of an `add_routes`: every endpoint, found by a dict lookup
    (see the module's docstring). The typed documentation of each endpoint lives in
    `DocsOnlyRoute`s, kept at the end of the list.

    Without dependencies (or a FastAPI body limit) the endpoint is called directly:
    FastAPI's per-request machinery (dependency solving, two exit stacks, a second
    exception wrapper) has nothing to do for it. Exceptions still reach the app's
    handlers through its middleware. A known endpoint asked with the wrong method
    is a partial match, so it answers 405 unless a later route takes the request.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.base = path[: path.index("{" + _PARAM)]
        if not isinstance(endpoint, Dispatcher):
            raise TypeError("A RunnableRoute's endpoint is a Dispatcher")
        self._table: Table = endpoint.table
        self._hashes: bool = endpoint.hashes
        # What `_find` answers for each plain endpoint name, built once: the usual
        # request (`path/invoke`) is one dict lookup, not `_find`'s call and tuple.
        self._plain: dict[str, _Found] = {
            name: (target, "", None)
            for name, target in self._table.items()
            if name != PLAYGROUND_FILES
        }
        #: The paths it serves (but the share-link twins), for `langserve-like serve`'s log.
        self.served_paths = tuple(self.base + name for name in self._table)
        #: No dependencies or FastAPI body limit: `handle` calls the endpoint itself.
        self._direct = not self.dependant.dependencies and not has_body_limit(self)
        if self._direct:
            self.app = _direct_app(endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return _NO_MATCH, {}
        if FASTAPI_SCOPE in scope and matched_for_included_router(scope):
            return super().matches(scope)
        path = route_path(scope)
        if not path.startswith(self.base):
            return _NO_MATCH, {}
        rest = path[len(self.base) :]
        found = self._plain.get(rest)
        if found is None:
            found = _find(self._table, rest, self._hashes)
            if found is None:
                return _NO_MATCH, {}
        child = {
            "endpoint": self.endpoint,
            # (No call for the usual request, which has no parameters to keep.)
            "path_params": _path_params(scope, found[1], found[2])
            if found[1] or found[2] is not None or scope.get("path_params")
            else {},
            "route": self,
            _FOUND: found,
        }
        return (_FULL if scope["method"] in found[0].methods else _PARTIAL), child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        found: _Found | None = scope.get(_FOUND)
        if found is not None and self._direct:
            # Found by `matches`: call the endpoint from here. Through FastAPI's and
            # Starlette's `handle`, the route's app and the `Dispatcher` it was four
            # coroutines more per request, which find nothing more to check.
            target, config_hash, file_path = found
            if scope["method"] not in target.methods:
                raise HTTPException(405, headers={"Allow": ", ".join(sorted(target.methods))})
            del scope[_FOUND]
            request = Request(scope, receive, send)
            endpoint: Any = target.endpoint
            if endpoint is not None:
                # `translated`, inlined (the one boundary where errors become responses);
                # the handler's state is read per request: `add_routes` replaces it
                # after building the table.
                app = endpoint.__self__.state
                app.in_flight += 1
                try:
                    response = await (
                        endpoint(request, config_hash=config_hash)
                        if config_hash
                        else endpoint(request)  # no keywords dict to build
                    )
                except TRANSLATED as exc:
                    response = translate(exc)
                finally:
                    app.in_flight -= 1
            else:
                response = await target.call(request, config_hash, file_path or "")
            if type(response) is JSONBody:  # what `Response.__call__` sends, without its coroutine
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": response.raw_headers,
                    }
                )
                await send({"type": "http.response.body", "body": response.body})
            else:
                await response(scope, receive, send)
            return
        if found is None:  # matched by FastAPI for an included router: parse here, once
            found = _find(self._table, scope["path_params"].get(_PARAM, ""), self._hashes)
            if found is None:  # the convertor's pattern admits only the table's names
                raise HTTPException(404)
            scope[_FOUND] = found
            scope["path_params"] = _path_params(scope, found[1], found[2])
        # The route as a whole takes GET, HEAD and POST; each endpoint takes fewer.
        if scope["method"] not in found[0].methods:
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(found[0].methods))})
        await super().handle(scope, receive, send)


def _direct_app(endpoint: _Direct) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


class Dispatcher:
    """The endpoint of a `RunnableRoute`: calls the endpoint the request names.

    A class so that the route can read the table it serves from its endpoint.
    """

    __slots__ = ("hashes", "table")

    def __init__(self, table: Table, hashes: bool) -> None:
        self.table = table
        self.hashes = hashes

    async def __call__(self, request: Request) -> Response:
        # `RunnableRoute.matches` or `.handle` found the target and checked its method.
        found: _Found = request.scope.pop(_FOUND)
        target, config_hash, file_path = found
        return await target.call(request, config_hash, file_path or "")


def add_runnable_route(
    router: APIRouter,
    path: str,
    table: Table,
    *,
    hashes: bool,
    dependencies: Sequence[Depends],
) -> None:
    """Serve `table` under `path/` (and `path/c/{hash}/` when `hashes`) on `router`."""
    router.add_api_route(
        f"{path}/{{{_PARAM}:{_convertor(table, hashes)}}}",
        Dispatcher(table, hashes),
        route_class_override=RunnableRoute,
        methods=sorted({m for target in table.values() for m in target.methods}),
        name=f"{path} endpoints",
        dependencies=list(dependencies),
        include_in_schema=False,
    )


def serves(routes: Sequence[BaseRoute], base: str) -> bool:
    """Whether a `RunnableRoute` already serves `base` (`prefix/path/`) among `routes`."""
    return any(isinstance(route, RunnableRoute) and route.base == base for route in routes)
