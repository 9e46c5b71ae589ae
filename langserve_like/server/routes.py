"""`add_routes`: mount a runnable's endpoints on a FastAPI app or APIRouter.

The endpoints are described once, in `ENDPOINTS`, and served by one route per
`add_routes` (`dispatch.RunnableRoute`) that finds the endpoint in a table, under `path` and
(for LangServe's share links) under `path/c/{config_hash}`. It hands the raw request
to `APIHandler`, which parses and validates the body itself (faster than a FastAPI
body model, with LangServe's error shapes). So that `/docs` still shows every
endpoint with its typed body, each gets a documentation route that never matches a
request, registered in a loop over the same table.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the
# endpoint functions built below at runtime.

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.params import Depends
from fastapi.responses import RedirectResponse
from langchain_core.runnables import Runnable
from starlette.routing import BaseRoute
from typing_extensions import Unpack

from langserve_like.runs.options import Runs
from langserve_like.server.dispatch import (
    PLAYGROUND_FILES,
    Table,
    Target,
    add_runnable_route,
    serves,
)
from langserve_like.server.feedback import TokenFeedback, TraceLinkRequest
from langserve_like.server.framework import routes_changed
from langserve_like.server.handler import APIHandler
from langserve_like.server.lifecycle import drain_on_shutdown
from langserve_like.server.models import Feedback
from langserve_like.server.openapi import (
    BODY_ERRORS,
    HASH_ERRORS,
    SCHEMA_ERRORS,
    SSE_RESPONSES,
    DocsOnlyRoute,
    docs_endpoint,
)
from langserve_like.server.options import RouteKeywords, RouteOptions
from langserve_like.server.responses import untranslated

__all__ = ["ENDPOINTS", "Endpoint", "add_routes"]

_Handler = Callable[..., Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class Endpoint:
    """One row of the endpoint table. `name` is the URL segment and the handler method."""

    name: str
    method: Literal["GET", "POST"]
    summary: str
    request_model: str | None = None  # attribute of `APIHandler.models`, for /docs
    response_model: str | None = None


ENDPOINTS = (
    Endpoint(
        "invoke",
        "POST",
        "Invoke the runnable on one input",
        "invoke_request",
        "invoke_response",
    ),
    Endpoint(
        "batch",
        "POST",
        "Invoke the runnable on a list of inputs",
        "batch_request",
        "batch_response",
    ),
    Endpoint("stream", "POST", "Stream the runnable's output chunks", "stream_request"),
    Endpoint(
        "stream_log",
        "POST",
        "Stream the run log as JSON Patch operations",
        "stream_log_request",
    ),
    Endpoint("stream_events", "POST", "Stream the run's events", "stream_events_request"),
    Endpoint("input_schema", "GET", "The JSON schema of the input"),
    Endpoint("output_schema", "GET", "The JSON schema of the output"),
    Endpoint("config_schema", "GET", "The JSON schema of the config"),
)
# Served only for a LangGraph graph (`RouteOptions.served` says when).
GRAPH_ENDPOINTS = (
    Endpoint("context_schema", "GET", "The JSON schema of the graph's run context (LangGraph)"),
)


def _endpoints(handler: APIHandler) -> tuple[Endpoint, ...]:
    """The rows of the table this handler serves."""
    return tuple(e for e in ENDPOINTS + GRAPH_ENDPOINTS if e.name in handler.endpoints)


async def _playground_redirect(request: Request, _hash: str, _file_path: str) -> Response:
    # A relative Location: FastAPI's own slash redirect is absolute, built from the
    # Host header and path the app sees, which is wrong behind a path-rewriting proxy.
    query = request.url.query
    return RedirectResponse("playground/" + (f"?{query}" if query else ""), status_code=307)


def _call(method: Callable[..., Awaitable[Response]]) -> Target.Call:
    async def call(request: Request, config_hash: str, _file_path: str) -> Response:
        return await method(request, config_hash=config_hash)

    return call


def _table(handler: APIHandler) -> Table:
    """`ENDPOINTS` as this handler serves them, for the one route of `add_routes`."""
    table: Table = {
        endpoint.name: Target(
            frozenset({endpoint.method}),
            _call(method := getattr(handler, endpoint.name)),
            endpoint=untranslated(method),
        )
        for endpoint in _endpoints(handler)
    }
    if "playground" in handler.endpoints:

        async def files(request: Request, config_hash: str, file_path: str) -> Response:
            return await handler.playground(file_path, request, config_hash=config_hash)

        table["playground"] = Target(frozenset({"GET", "HEAD"}), _playground_redirect)
        table[PLAYGROUND_FILES] = Target(frozenset({"GET", "HEAD"}), files)
    return table


def _register(router: APIRouter, handler: APIHandler, path: str, deps: list[Depends]) -> None:
    hashes = "config_hashes" in handler.endpoints
    table = _table(handler)
    if table:
        add_runnable_route(router, path, table, hashes=hashes, dependencies=deps)
    _register_docs(router, handler, path, deps, hashes)
    _register_feedback(router, handler, path, path.strip("/") or "default", deps)
    _docs_last(router)


def _register_docs(
    router: APIRouter, handler: APIHandler, path: str, deps: list[Depends], hashes: bool
) -> None:
    """What /docs shows of the table: a `DocsOnlyRoute` per endpoint and base path."""
    tag = path.strip("/") or "default"
    for with_hash in (False, True) if hashes else (False,):
        base = "/c/{config_hash}" if with_hash else ""
        errors = HASH_ERRORS if with_hash else {}
        for endpoint in _endpoints(handler):
            model = getattr(handler.models, endpoint.request_model or "", None)
            response = getattr(handler.models, endpoint.response_model or "", None)
            if model is None:  # GET: the schemas
                responses = {**SCHEMA_ERRORS, **errors}
            else:
                responses = {**({} if response else SSE_RESPONSES), **BODY_ERRORS, **errors}
            router.add_api_route(
                f"{path}{base}/{endpoint.name}",
                docs_endpoint(model, with_hash),
                methods=[endpoint.method],
                name=f"{path} {endpoint.name}{' with config' if with_hash else ''}",
                summary=endpoint.summary,
                tags=[f"{tag}/config" if with_hash else tag],
                dependencies=deps,
                response_model=response,
                responses=responses,
                route_class_override=DocsOnlyRoute,
            )


def _docs_last(router: APIRouter) -> None:
    """Moves the documentation routes, which never match, behind the real ones.

    Requests for the runnables of later `add_routes` calls then never pass them
    (each route passed costs a request a pattern match); routes an app adds after
    its last `add_routes` still do.
    """
    docs: list[BaseRoute] = [r for r in router.routes if isinstance(r, DocsOnlyRoute)]
    router.routes[:] = [r for r in router.routes if not isinstance(r, DocsOnlyRoute)] + docs
    routes_changed(router)


def _register_feedback(
    router: APIRouter, handler: APIHandler, path: str, tag: str, deps: list[Depends]
) -> None:
    """The optional feedback endpoints: ordinary FastAPI routes with typed bodies."""

    async def create_feedback(feedback: Feedback) -> Response:
        return await handler.create_feedback(feedback)

    async def check_feedback() -> Response:
        return await handler.check_feedback_enabled()

    async def token_feedback(body: TokenFeedback) -> Response:
        return await handler.create_feedback_from_token(body)

    async def trace_link(body: TraceLinkRequest) -> Response:
        return await handler.create_public_trace_link(body)

    async def check_trace_link() -> Response:
        return await handler.check_public_trace_link_enabled()

    table: list[tuple[str, str, _Handler]] = [
        ("feedback", "POST", create_feedback),
        ("feedback", "HEAD", check_feedback),
        ("token_feedback", "POST", token_feedback),
        ("public_trace_link", "PUT", trace_link),
        ("public_trace_link", "HEAD", check_trace_link),
    ]
    for name, method, endpoint in table:
        if name in handler.endpoints:
            router.add_api_route(
                f"{path}/{name}", endpoint, methods=[method], tags=[tag], dependencies=deps
            )


def add_routes(
    app: FastAPI | APIRouter,
    runnable: Runnable[Any, Any],
    path: str = "",
    *,
    dependencies: Sequence[Depends] | None = None,
    runs: "Runs | bool" = False,
    **options: Unpack[RouteKeywords],
) -> APIHandler:
    """Serve `runnable` under `path`: invoke, batch, stream, stream_log,
    stream_events, input_schema, output_schema, config_schema and playground/,
    each also under `path/c/{config_hash}/`. Returns the `APIHandler` behind them.

    The options (`RouteKeywords`) are LangServe's (see the README's table), plus
    `feedback_sink`, `max_body_size` (413 above it), `max_batch_size` (422 above it),
    `error_mapper` (exception -> status), `expose_error_messages` and `strict`
    (422 for body keys, config keys and `kwargs` that LangServe silently ignored).
    `runs=True` (or `Runs(...)`) also serves it as a LangGraph assistant named after
    `path`, with threads and durable background runs (the `runs` extra).
    """
    if not isinstance(runnable, Runnable):
        raise TypeError(f"Expected a Runnable, got {type(runnable).__name__}")
    prefix = app.prefix if isinstance(app, APIRouter) else ""
    route = RouteOptions.create(path=path, prefix=prefix, **options)
    if serves(app.routes, f"{prefix}{route.path}/"):
        raise ValueError(
            f"A runnable is already served at {prefix + route.path or '/'!r} on this app"
        )
    handler = APIHandler(runnable, route)
    router = app.router if isinstance(app, FastAPI) else app
    _register(router, handler, route.path, list(dependencies or ()))
    # Cancelled streams get their final event out on shutdown; the router's state is
    # what its handlers count their requests against.
    handler.state = drain_on_shutdown(router)
    if runs:
        from langserve_like.runs import attach

        attach(app, runnable, route.path, runs)
    return handler
