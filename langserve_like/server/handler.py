"""`APIHandler`: one runnable's endpoints, as methods that take a Starlette request.

`add_routes` mounts these methods; hand-written FastAPI routes (auth, per-user
routing) call them directly. Everything that can be decided once is decided in
`__init__`; a request only reads its body, merges config and runs.

Errors become responses in one place (`responses.translated`); a runnable's
failure is hidden unless `expose_error_messages=True`, and its traceback goes to
the `langserve_like` logger. The three streaming endpoints share one event generator
(`streaming.frames`).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import (
    Callable,
    Iterable,
    Sequence,
)
from typing import Any, Literal

import orjson
from langchain_core.runnables import Runnable, RunnableConfig
from starlette.requests import Request
from starlette.responses import Response

from langserve_like.exceptions import PayloadTooLarge, RequestError, RunnableFailed
from langserve_like.schema import RouteSchemas, namespace_for
from langserve_like.serialization import Serializer, WellKnownLCSerializer
from langserve_like.server import feedback as feedback_module
from langserve_like.server.config import ConfigResolver, PerRequestConfigModifier
from langserve_like.server.graph import GraphRoute, as_graph
from langserve_like.server.models import Feedback, create_request_models
from langserve_like.server.requests import (
    InvokeBody,
    check_content_type,
    parse_batch_body,
    parse_invoke_body,
    parse_json,
)
from langserve_like.server.responses import (
    SHUTTING_DOWN,
    ClientDisconnected,
    cancel_on_disconnect,
    error_response,
    invoke_output,
    json_response,
    run_response,
    translated,
)
from langserve_like.server.sse import EventStreamResponse, encode_event
from langserve_like.server.streaming import DONE, StreamKind, event_source, frames
from langserve_like.wire import ERROR, KNOWN_ENDPOINTS, field_error

__all__ = [
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_MAX_BODY_SIZE",
    "APIHandler",
    "ErrorMapper",
    "error_response",
]

logger = logging.getLogger("langserve_like")

# /stream_log must keep serving LangServe's clients; the deprecation of
# Runnable.astream_log is langchain-core's advice to callers, which here are remote
# clients that cannot see it, so it would only add a warning per request to the log.
warnings.filterwarnings("ignore", message="astream_log is deprecated")

DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024
DEFAULT_MAX_BATCH_SIZE = 256

#: Maps a runnable's exception to the failure the client sees, or None for a plain 500.
ErrorMapper = Callable[[BaseException], "RunnableFailed | None"]
# Mounted unless disabled; the feedback endpoints are opt-in (LangServe bug 3).
CORE_ENDPOINTS = KNOWN_ENDPOINTS - {"feedback", "token_feedback", "public_trace_link"}


class APIHandler:
    """Serves one runnable. See `add_routes` for what each option means."""

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        *,
        path: str = "",
        prefix: str = "",
        input_type: Any = "auto",
        output_type: Any = "auto",
        config_keys: Sequence[str] = ("configurable",),
        include_callback_events: bool = False,
        enable_feedback_endpoint: bool = False,
        token_feedback_config: feedback_module.TokenFeedbackConfig | None = None,
        enable_public_trace_link_endpoint: bool = False,
        per_req_config_modifier: PerRequestConfigModifier | None = None,
        stream_log_name_allow_list: Sequence[str] | None = None,
        playground_type: Literal["default", "chat"] = "default",
        astream_events_version: Literal["v1", "v2"] = "v2",
        serializer: Serializer | None = None,
        feedback_sink: feedback_module.FeedbackSink | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        error_mapper: ErrorMapper | None = None,
        expose_error_messages: bool = False,
        endpoints: Iterable[str] | None = None,
        strict: bool = False,
    ) -> None:
        if not isinstance(runnable, Runnable):
            raise TypeError(f"Expected a Runnable, got {type(runnable).__name__}")
        if path and not path.startswith("/"):
            raise ValueError(f"path must be empty or start with '/', got {path!r}")
        if playground_type not in ("default", "chat"):
            raise ValueError(
                f"playground_type must be 'default' or 'chat', got {playground_type!r}"
            )
        if astream_events_version not in ("v1", "v2"):
            raise ValueError(
                f"astream_events_version must be 'v1' or 'v2', got {astream_events_version!r}"
            )
        graph = as_graph(runnable)
        if input_type != "auto" or output_type != "auto":
            runnable = runnable.with_types(
                input_type=None if input_type == "auto" else input_type,
                output_type=None if output_type == "auto" else output_type,
            )
        self.runnable = runnable
        self.path = path.rstrip("/")
        self.prefix = prefix
        self.run_name = (prefix + self.path) or None
        self.namespace = namespace_for(prefix + self.path)
        self.playground_type = playground_type
        self.graph = (
            GraphRoute(graph, self.namespace, typed_input=input_type != "auto")
            if graph is not None
            else None
        )
        self.schemas = RouteSchemas(
            runnable,
            self.namespace,
            config_keys,
            input_model=self.graph.input_model if self.graph else None,
            config_model=self.graph.config_model(config_keys) if self.graph else None,
        )
        self.config = ConfigResolver(
            runnable,
            config_keys=config_keys,
            run_name=self.run_name,
            config_model=self.schemas.config_model,
            per_req_config_modifier=per_req_config_modifier,
            strict=strict,
        )
        self.feedback = feedback_module.FeedbackService(
            sink=feedback_sink,
            enabled=enable_feedback_endpoint,
            token_config=token_feedback_config,
            public_trace_link=enable_public_trace_link_endpoint,
        )
        names = CORE_ENDPOINTS if endpoints is None else frozenset(endpoints)
        unknown = names - KNOWN_ENDPOINTS
        if unknown:
            raise ValueError(
                f"Unknown endpoint names {sorted(unknown)}; known: {sorted(KNOWN_ENDPOINTS)}"
            )
        self.endpoints = names | self.feedback.endpoints()
        # None unless token feedback is configured: no coroutine per run otherwise.
        self._tokens = self.feedback.tokens if self.feedback.token_config is not None else None
        self.include_callback_events = include_callback_events
        self.serializer = serializer or WellKnownLCSerializer()
        self.max_body_size = max_body_size
        self.max_batch_size = max_batch_size
        self.error_mapper = error_mapper
        self.expose_error_messages = expose_error_messages
        self.strict = strict
        # An empty list allows nothing; None allows everything.
        self._allow_list = (
            None if stream_log_name_allow_list is None else frozenset(stream_log_name_allow_list)
        )
        self._events_version = astream_events_version
        self.models = create_request_models(
            self.namespace,
            *self.schemas.docs_models(strict),
            max_batch_size=max_batch_size,
            strict=strict,
        )
        if self.graph is not None:
            self.models = self.graph.docs_models(self.models)

    @property
    def feedback_enabled(self) -> bool:
        return "feedback" in self.endpoints and self.feedback.available

    # --- the request pipeline ------------------------------------------------------

    async def _read_body(self, request: Request) -> Any:
        # The raw ASGI headers and messages rather than `request.headers` and
        # `request.stream()`, whose Headers object and async generator cost ~10,000
        # instructions per request (callgrind).
        content_type = length = None
        for name, value in request.scope["headers"]:
            if name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
            elif name == b"content-length" and length is None:
                length = value
        check_content_type(content_type)
        if length is not None and length.isdigit() and int(length) > self.max_body_size:
            raise PayloadTooLarge(self.max_body_size)
        body = b""
        more_body = True
        while more_body:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            body += message.get("body", b"")
            more_body = message.get("more_body", False)
            if len(body) > self.max_body_size:
                raise PayloadTooLarge(self.max_body_size)
        request._body = body  # as Request.body() caches it, for a per_req_config_modifier
        return parse_json(body, self.max_body_size)

    async def _prepare(
        self,
        request: Request,
        endpoint: str,
        config_hash: str,
        server_config: RunnableConfig | None,
    ) -> tuple[InvokeBody, Any, RunnableConfig, Runnable[Any, Any]]:
        raw = await self._read_body(request)
        runnable = self._runnable_for(raw, endpoint)
        body = parse_invoke_body(raw, endpoint, self.strict)
        client_config = self.config.client_config(body.config, config_hash)
        value = self.schemas.validate_input(body.input, client_config)
        config = await self.config.finish(client_config, request, server_config, endpoint)
        return body, value, config, runnable

    def _runnable_for(self, body: Any, endpoint: str) -> Runnable[Any, Any]:
        """What this request runs: a graph with the request's context and stream mode."""
        if self.graph is None:
            return self.runnable
        return self.graph.take(self.runnable, body, endpoint)

    def _failure(self, exc: BaseException, run_id: Any) -> RunnableFailed:
        if isinstance(exc, RunnableFailed):  # already says what the client may see
            return exc
        mapped = None
        if self.error_mapper is not None:
            try:
                mapped = self.error_mapper(exc)
            except Exception:  # a bug in the app's mapper must not become a crash
                logger.exception("error_mapper of %s raised; answering 500", self.run_name)
        if mapped is not None:
            logger.warning(
                "Run %s of %s failed: %s -> %s",
                run_id,
                self.run_name,
                type(exc).__name__,
                mapped.status_code,
            )
            return mapped
        if isinstance(exc, TypeError) and "not JSON serializable" in str(exc):
            logger.error(
                "Run %s of %s returned output that cannot be serialized",
                run_id,
                self.run_name,
                exc_info=exc,
            )
        else:
            logger.error("Run %s of %s failed", run_id, self.run_name, exc_info=exc)
        message = (
            f"{type(exc).__name__}: {exc}"
            if self.expose_error_messages
            else "Internal Server Error"
        )
        return RunnableFailed(500, message)

    def _raise_failure(self, exc: Exception, run_id: Any) -> RunnableFailed:
        failure = self._failure(exc, run_id)
        failure.run_id = str(run_id)  # type: ignore[attr-defined]
        return failure

    def _aggregator(self, config: RunnableConfig, wanted: bool = True) -> Any:
        if not (self.include_callback_events and wanted):
            return None
        from langserve_like.server.callbacks import EventAggregator

        aggregator = EventAggregator()
        config["callbacks"] = [aggregator]
        return aggregator

    async def _stream_tokens(self, run_id: Any) -> list[dict[str, Any]]:
        # The response has started when the stream needs them: a LangSmith failure
        # can only mean no token, not an error status.
        try:
            return await self._tokens(run_id) if self._tokens else []
        except Exception:
            logger.exception("Could not create a feedback token for run %s", run_id)
            return []

    # --- endpoints -----------------------------------------------------------------

    @translated
    async def invoke(
        self,
        request: Request,
        *,
        config_hash: str = "",
        server_config: RunnableConfig | None = None,
    ) -> Response:
        _, value, config, runnable = await self._prepare(
            request, "invoke", config_hash, server_config
        )
        run_id = config["run_id"]
        aggregator = self._aggregator(config)
        try:
            output = await cancel_on_disconnect(request, runnable.ainvoke(value, config))
            metadata = {
                "run_id": str(run_id),
                "feedback_tokens": await self._tokens(run_id) if self._tokens else [],
            }
            events = aggregator.events if aggregator is not None else None
            return run_response(self.serializer, invoke_output(output), metadata, events)
        except (ClientDisconnected, RequestError, RunnableFailed):
            raise
        except Exception as exc:
            raise self._raise_failure(exc, run_id) from exc

    @translated
    async def batch(
        self,
        request: Request,
        *,
        config_hash: str = "",
        server_config: RunnableConfig | None = None,
    ) -> Response:
        raw = await self._read_body(request)
        runnable = self._runnable_for(raw, "batch")
        body = parse_batch_body(raw, self.max_batch_size, self.strict)
        count = len(body.inputs)
        item_configs = body.config if isinstance(body.config, list) else [body.config] * count
        client_configs = [self.config.client_config(c, config_hash) for c in item_configs]
        if not count:  # nothing to run, but a bad config or hash is still a 4xx
            self.config.client_config(body.config or None, config_hash)  # type: ignore[arg-type]
        values = [
            self.schemas.validate_input(v, c, ("inputs", i))
            for i, (v, c) in enumerate(zip(body.inputs, client_configs, strict=True))
        ]
        configs = [
            await self.config.finish(dict(c), request, server_config, "batch")
            for c in client_configs
        ]
        aggregators = [self._aggregator(c) for c in configs]
        run_ids = [str(c["run_id"]) for c in configs]
        try:
            outputs = (
                await cancel_on_disconnect(request, runnable.abatch(values, configs))
                if count
                else []
            )
            responses = [
                {"run_id": r, "feedback_tokens": await self._tokens(r) if self._tokens else []}
                for r in run_ids
            ]
            events = [a.events for a in aggregators] if self.include_callback_events else None
            metadata = {"responses": responses, "run_ids": run_ids}
            outputs = [invoke_output(output) for output in outputs]
            return run_response(self.serializer, outputs, metadata, events)
        except (ClientDisconnected, RequestError, RunnableFailed):
            raise
        except Exception as exc:
            raise self._raise_failure(exc, ",".join(run_ids)) from exc

    async def _streaming(
        self,
        kind: StreamKind,
        request: Request,
        config_hash: str,
        server_config: RunnableConfig | None,
    ) -> Response:
        body, value, config, runnable = await self._prepare(
            request, kind, config_hash, server_config
        )
        run_id = config["run_id"]
        aggregator = self._aggregator(config, body.callback_events)
        source, encode = event_source(
            runnable,
            kind,
            value,
            config,
            body.filters or {},
            serializer=self.serializer,
            allow_list=self._allow_list,
            events_version=self._events_version,
        )
        # The feedback token is fetched while the run starts; the metadata event
        # that carries it goes first.
        tokens = asyncio.ensure_future(self._stream_tokens(run_id)) if self._tokens else None
        failed = None
        try:
            first = await cancel_on_disconnect(request, anext(source, DONE))
        except (ClientDisconnected, RunnableFailed):
            await source.aclose()
            if tokens is not None:
                tokens.cancel()
            raise
        except Exception as exc:
            await source.aclose()
            first, failed = DONE, self._failure(exc, run_id)
            if failed.status_code != 500:
                # An error_mapper chose this status; nothing was sent yet, so it
                # can still be the response's. A plain failure is an `error` event
                # in a 200 stream, where LangServe's clients look for it.
                if tokens is not None:
                    tokens.cancel()
                failed.run_id = str(run_id)  # type: ignore[attr-defined]
                raise failed from exc
        shutting_down = {"status_code": 503, "message": SHUTTING_DOWN, "run_id": str(run_id)}
        return EventStreamResponse(
            frames(
                source,
                first,
                encode,
                str(run_id),
                aggregator,
                serializer=self.serializer,
                failure=self._failure,
                tokens=tokens,
                failed=failed,
            ),
            cancelled_frame=encode_event(ERROR, orjson.dumps(shutting_down)),
        )

    @translated
    async def stream(
        self,
        request: Request,
        *,
        config_hash: str = "",
        server_config: RunnableConfig | None = None,
    ) -> Response:
        return await self._streaming("stream", request, config_hash, server_config)

    @translated
    async def stream_log(
        self,
        request: Request,
        *,
        config_hash: str = "",
        server_config: RunnableConfig | None = None,
    ) -> Response:
        return await self._streaming("stream_log", request, config_hash, server_config)

    @translated
    async def stream_events(
        self,
        request: Request,
        *,
        config_hash: str = "",
        server_config: RunnableConfig | None = None,
    ) -> Response:
        return await self._streaming("stream_events", request, config_hash, server_config)

    astream_events = stream_events  # LangServe's name for the same endpoint

    async def _schema(self, which: str, request: Request, config_hash: str) -> Response:
        query_config = request.query_params.get("config")
        body: dict[str, Any] | None = None
        if query_config:
            try:
                body = orjson.loads(query_config)
            except orjson.JSONDecodeError:
                body = None
            if not isinstance(body, dict):
                error = field_error(
                    ("query", "config"), "config must be a JSON object", "dict_type"
                )
                raise RequestError(422, [error])
        # The per-request modifier runs here too (LangServe skipped it, bug 5), so
        # config-based auth and tenancy also cover the schemas.
        config = await self.config.finish(self.config.client_config(body, config_hash), request)
        return json_response(orjson.dumps(self.schemas.json_schema(which, config)))

    @translated
    async def input_schema(self, request: Request, *, config_hash: str = "") -> Response:
        return await self._schema("input", request, config_hash)

    @translated
    async def output_schema(self, request: Request, *, config_hash: str = "") -> Response:
        return await self._schema("output", request, config_hash)

    @translated
    async def config_schema(self, request: Request, *, config_hash: str = "") -> Response:
        return await self._schema("config", request, config_hash)

    @translated
    async def context_schema(self, request: Request, *, config_hash: str = "") -> Response:
        """A graph's run context (the body's `context`); only graph routes serve it."""
        if self.graph is None:
            raise RequestError(404, "Not Found: this route serves no LangGraph graph")
        await self.config.finish(self.config.client_config(None, config_hash), request)
        return json_response(orjson.dumps(self.graph.context_json))

    @translated
    async def playground(
        self, file_path: str, request: Request, *, config_hash: str = ""
    ) -> Response:
        from langserve_like.server.playground import playground_response

        # A bad hash is a 400 as elsewhere; the modifier runs so that config-based
        # auth covers the page too (LangServe skipped it, bug 5).
        await self.config.finish(self.config.client_config(None, config_hash), request)
        return await playground_response(self, request, file_path, config_hash)

    # --- feedback ------------------------------------------------------------------

    @translated
    async def create_feedback(self, feedback: Feedback) -> Response:
        return json_response(orjson.dumps(await self.feedback.create(feedback)))

    @translated
    async def check_feedback_enabled(self) -> Response:
        self.feedback.require_available()
        return Response(status_code=200)

    @translated
    async def create_feedback_from_token(self, body: feedback_module.TokenFeedback) -> Response:
        await self.feedback.create_from_token(body)
        return json_response(b"null")

    @translated
    async def create_public_trace_link(self, body: feedback_module.TraceLinkRequest) -> Response:
        return json_response(
            orjson.dumps({"public_url": await self.feedback.share_run(body.run_id)})
        )

    @translated
    async def check_public_trace_link_enabled(self) -> Response:
        self.feedback.require_langsmith("public trace link")
        return Response(status_code=200)
