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

from langserve_like.config import PerRequestConfigModifier
from langserve_like.dispatch import PLAYGROUND_FILES, Table, Target, add_runnable_route, serves
from langserve_like.feedback import (
    FeedbackSink,
    TokenFeedback,
    TokenFeedbackConfig,
    TraceLinkRequest,
)
from langserve_like.handler import (
    CORE_ENDPOINTS,
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_MAX_BODY_SIZE,
    APIHandler,
    ErrorMapper,
)
from langserve_like.lifecycle import drain_on_shutdown
from langserve_like.openapi import (
    BODY_ERRORS,
    HASH_ERRORS,
    SCHEMA_ERRORS,
    SSE_RESPONSES,
    DocsOnlyRoute,
    docs_endpoint,
)
from langserve_like.protocol import (
    KNOWN_ENDPOINTS,
    EndpointName,
    Feedback,
)
from langserve_like.runs.options import Runs
from langserve_like.serialization import Serializer

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
        endpoint.name: Target(frozenset({endpoint.method}), _call(getattr(handler, endpoint.name)))
        for endpoint in ENDPOINTS
        if endpoint.name in handler.endpoints
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
        for endpoint in ENDPOINTS:
            if endpoint.name not in handler.endpoints:
                continue
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
    (~5,000 instructions each); routes an app adds after its last `add_routes`
    still do.
    """
    docs: list[BaseRoute] = [r for r in router.routes if isinstance(r, DocsOnlyRoute)]
    router.routes[:] = [r for r in router.routes if not isinstance(r, DocsOnlyRoute)] + docs
    changed = getattr(router, "_mark_routes_changed", None)  # FastAPI >= 0.16x caches
    if changed is not None:
        changed()


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


def _select_endpoints(
    enabled: Sequence[str] | None, disabled: Sequence[str] | None
) -> tuple[frozenset[str], frozenset[str]]:
    """(core endpoints to mount, optional endpoints named in enabled_endpoints)."""
    if enabled is not None and disabled is not None:
        raise ValueError("Pass enabled_endpoints or disabled_endpoints, not both")
    names = frozenset(n.lower() for n in (enabled if enabled is not None else disabled or ()))
    unknown = names - KNOWN_ENDPOINTS
    if unknown:
        raise ValueError(
            f"Unknown endpoint names {sorted(unknown)}; known: {sorted(KNOWN_ENDPOINTS)}"
        )
    if enabled is not None:
        return names & CORE_ENDPOINTS, names - CORE_ENDPOINTS
    return CORE_ENDPOINTS - names, frozenset()


def add_routes(
    app: FastAPI | APIRouter,
    runnable: Runnable[Any, Any],
    path: str = "",
    *,
    input_type: Any = "auto",
    output_type: Any = "auto",
    config_keys: Sequence[str] = ("configurable",),
    include_callback_events: bool = False,
    per_req_config_modifier: PerRequestConfigModifier | None = None,
    enable_feedback_endpoint: bool = False,
    token_feedback_config: TokenFeedbackConfig | None = None,
    enable_public_trace_link_endpoint: bool = False,
    disabled_endpoints: Sequence[EndpointName] | None = None,
    stream_log_name_allow_list: Sequence[str] | None = None,
    enabled_endpoints: Sequence[EndpointName] | None = None,
    dependencies: Sequence[Depends] | None = None,
    playground_type: Literal["default", "chat"] = "default",
    astream_events_version: Literal["v1", "v2"] = "v2",
    serializer: Serializer | None = None,
    feedback_sink: FeedbackSink | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    error_mapper: ErrorMapper | None = None,
    expose_error_messages: bool = False,
    runs: "Runs | bool" = False,
) -> APIHandler:
    """Serve `runnable` under `path`: invoke, batch, stream, stream_log,
    stream_events, input_schema, output_schema, config_schema and playground/,
    each also under `path/c/{config_hash}/`. Returns the `APIHandler` behind them.

    The options are LangServe's (see the README's table), plus `feedback_sink`,
    `max_body_size` (413 above it), `max_batch_size` (422 above it),
    `error_mapper` (exception -> status) and `expose_error_messages`.
    `runs=True` (or `Runs(...)`) also serves it as a LangGraph assistant named after
    `path`, with threads and durable background runs (the `runs` extra).
    """
    if not isinstance(runnable, Runnable):
        raise TypeError(f"Expected a Runnable, got {type(runnable).__name__}")
    if path and not path.startswith("/"):
        raise ValueError(f"path must be empty or start with '/', got {path!r}")
    path = path.rstrip("/")
    core, optional = _select_endpoints(enabled_endpoints, disabled_endpoints)
    switched_off = frozenset(disabled_endpoints or ())
    if "token_feedback" in optional and token_feedback_config is None:
        raise ValueError(
            "enabled_endpoints lists token_feedback but no token_feedback_config was given"
        )
    prefix = app.prefix if isinstance(app, APIRouter) else ""
    if serves(app.routes, f"{prefix}{path}/"):
        raise ValueError(f"A runnable is already served at {prefix + path or '/'!r} on this app")

    handler = APIHandler(
        runnable,
        path=path,
        prefix=prefix,
        input_type=input_type,
        output_type=output_type,
        config_keys=config_keys,
        include_callback_events=include_callback_events,
        enable_feedback_endpoint=(enable_feedback_endpoint or "feedback" in optional)
        and "feedback" not in switched_off,
        token_feedback_config=None if "token_feedback" in switched_off else token_feedback_config,
        enable_public_trace_link_endpoint=(
            enable_public_trace_link_endpoint or "public_trace_link" in optional
        )
        and "public_trace_link" not in switched_off,
        per_req_config_modifier=per_req_config_modifier,
        stream_log_name_allow_list=stream_log_name_allow_list,
        playground_type=playground_type,
        astream_events_version=astream_events_version,
        serializer=serializer,
        feedback_sink=None if "feedback" in switched_off else feedback_sink,
        max_body_size=max_body_size,
        max_batch_size=max_batch_size,
        error_mapper=error_mapper,
        expose_error_messages=expose_error_messages,
        endpoints=core,
    )
    router = app.router if isinstance(app, FastAPI) else app
    _register(router, handler, path, list(dependencies or ()))
    drain_on_shutdown(router)  # cancelled streams get their final event out on shutdown
    if runs:
        from langserve_like.runs import attach

        attach(app, runnable, path, runs)
    return handler
