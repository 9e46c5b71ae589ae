"""`APIHandler`: one runnable's endpoints, as methods that take a Starlette request.

`add_routes` mounts these methods; hand-written FastAPI routes (auth, per-user
routing) call them directly. Everything that can be decided once is decided in
`__init__`; a request only reads its body, merges config and runs.

Errors become responses in one place (`responses.translated`); a runnable's
exception becomes a failure in one place (`failures.to_failure`), hidden unless
`expose_error_messages=True`, its traceback going to the `langserve_like` logger.
The three streaming endpoints share one event generator (`streaming.frames`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import orjson
from langchain_core.prompt_values import ChatPromptValue
from langchain_core.runnables import Runnable, RunnableConfig
from starlette.requests import Request
from starlette.responses import Response
from typing_extensions import Unpack

from langserve_like.exceptions import ClientDisconnected, RequestError, RunnableFailed
from langserve_like.schema import RouteSchemas, namespace_for
from langserve_like.server import disconnect, feedback as feedback_module, state
from langserve_like.server.batching import abatch
from langserve_like.server.config import ConfigResolver
from langserve_like.server.failures import to_failure
from langserve_like.server.graph import GraphRoute, as_graph
from langserve_like.server.models import Feedback, RequestModels, create_request_models
from langserve_like.server.options import HandlerKeywords, RouteOptions
from langserve_like.server.requests import (
    InvokeBody,
    parse_batch_body,
    parse_invoke_body,
    read_body,
)
from langserve_like.server.responses import (
    cancel_on_disconnect,
    cancelled,
    invoke_output,
    json_response,
    run_response,
    translated,
)
from langserve_like.server.sse import EventStreamResponse, encode_data, encode_record
from langserve_like.server.state import ServerState
from langserve_like.server.streaming import (
    DONE,
    StreamKind,
    event_source,
    frames,
    shutdown_record,
)
from langserve_like.wire import field_error

__all__ = ["APIHandler"]

logger = logging.getLogger("langserve_like")


class APIHandler:
    """Serves one runnable. See `add_routes` for what each option means.

    Takes a `RouteOptions`, or the keyword options of `add_routes` (LangServe's
    `APIHandler` signature) from which it builds one.
    """

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        options: RouteOptions | None = None,
        **keywords: Unpack[HandlerKeywords],
    ) -> None:
        if not isinstance(runnable, Runnable):
            raise TypeError(f"Expected a Runnable, got {type(runnable).__name__}")
        if options is None:
            options = RouteOptions.create(**keywords)
        elif keywords:
            raise TypeError("Pass a RouteOptions or keyword options, not both")
        self.options = options
        graph = as_graph(runnable)
        if options.input_type != "auto" or options.output_type != "auto":
            runnable = runnable.with_types(
                input_type=None if options.input_type == "auto" else options.input_type,
                output_type=None if options.output_type == "auto" else options.output_type,
            )
        self.runnable = runnable
        self.path, self.prefix, self.run_name = options.path, options.prefix, options.run_name
        self.namespace = namespace_for(options.prefix + options.path)
        self.playground_type = options.playground_type
        self.serializer = options.serializer
        typed = options.input_type != "auto"
        self.graph = (
            GraphRoute(graph, self.namespace, typed_input=typed) if graph is not None else None
        )
        self.schemas = RouteSchemas(
            runnable,
            self.namespace,
            options.config_keys,
            input_model=self.graph.input_model if self.graph else None,
            config_model=self.graph.config_model(options.config_keys) if self.graph else None,
        )
        self.config = ConfigResolver(
            runnable,
            config_keys=options.config_keys,
            run_name=self.run_name,
            config_model=self.schemas.config_model,
            per_req_config_modifier=options.per_req_config_modifier,
            strict=options.strict,
        )
        self.endpoints = options.served(self.graph is not None)
        self.feedback = feedback_module.FeedbackService(
            sink=options.feedback_sink, token_config=options.token_feedback_config
        )
        # None unless token feedback is configured: no coroutine per run otherwise.
        self._tokens = self.feedback.tokens if options.token_feedback_config else None
        self.models = self._docs_models()
        #: What the handler shares with the other routes of its app (see `lifecycle`).
        self.state = ServerState()

    def _docs_models(self) -> RequestModels:
        options = self.options
        models = create_request_models(
            self.namespace,
            *self.schemas.docs_models(options.strict),
            max_batch_size=options.max_batch_size,
            strict=options.strict,
        )
        return self.graph.docs_models(models) if self.graph is not None else models

    @property
    def feedback_enabled(self) -> bool:
        return "feedback" in self.endpoints and self.feedback.available

    # --- the request pipeline ------------------------------------------------------

    def _parse(
        self, raw: Any, endpoint: str, config_hash: str
    ) -> tuple[InvokeBody, Any, dict[str, Any], Runnable[Any, Any]]:
        """A read body's parts: the body, the validated input, the client's config and
        what runs it (a graph with the request's context and stream mode). Not a
        coroutine: the endpoint awaits the body and the config's finish itself."""
        graph = self.graph
        runnable = self.runnable if graph is None else graph.take(self.runnable, raw, endpoint)
        body = parse_invoke_body(raw, endpoint, self.options.strict)
        config = body.config
        client_config = (
            self.config.client_config(config, config_hash) if config or config_hash else {}
        )
        return body, self.schemas.validate_input(body.input, client_config), client_config, runnable

    def _aggregator(self, config: RunnableConfig, wanted: bool = True) -> Any:
        if not (self.options.include_callback_events and wanted):
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
        _, value, client_config, runnable = self._parse(
            await read_body(request, self.options.max_body_size), "invoke", config_hash
        )
        resolver = self.config
        if resolver.awaits:
            run_metadata = resolver.run_metadata(request, "invoke")
            config = await resolver.finish(client_config, request, server_config, run_metadata)
        else:
            config = resolver.run_config(client_config, request, server_config, "invoke")
        run_id = config["run_id"]
        aggregator = self._aggregator(config) if self.options.include_callback_events else None
        # The metadata hands a UUID run id to orjson, which writes it as `str()` does,
        # in C (`str(UUID)` is ~7,000 instructions of Python); another type (set by
        # a modifier) is written as `str()` of it, as before.
        # `cancel_on_disconnect`, inlined: a coroutine less per request.
        sweeper = disconnect.sweeper(self.state)
        ticket = sweeper.watch(request._receive)
        try:
            try:
                output = await runnable.ainvoke(value, config)
            except asyncio.CancelledError:
                raise cancelled(sweeper.disconnected(ticket)) from None
            finally:
                sweeper.unwatch(ticket)
            metadata = {
                "run_id": run_id if type(run_id) is UUID else str(run_id),
                "feedback_tokens": await self._tokens(run_id) if self._tokens else [],
            }
            events = aggregator.events if aggregator is not None else None
            if type(output) is ChatPromptValue:
                output = invoke_output(output)
            return run_response(self.serializer, output, metadata, events)
        except (ClientDisconnected, RequestError, RunnableFailed):
            raise
        except Exception as exc:
            raise to_failure(exc, self.options, str(run_id)) from exc

    @translated
    async def batch(
        self,
        request: Request,
        *,
        config_hash: str = "",
        server_config: RunnableConfig | None = None,
    ) -> Response:
        raw = await read_body(request, self.options.max_body_size)
        graph = self.graph
        runnable = self.runnable if graph is None else graph.take(self.runnable, raw, "batch")
        body = parse_batch_body(raw, self.options.max_batch_size, self.options.strict)
        if isinstance(body.config, list) and body.inputs:
            client_configs = [self.config.client_config(c, config_hash) for c in body.config]
        else:  # one config for all inputs, validated once (a 4xx even with no inputs)
            shared = self.config.client_config(body.config or None, config_hash)  # type: ignore[arg-type]
            client_configs = [shared] * len(body.inputs)
        values = [
            self.schemas.validate_input(v, c, ("inputs", i))
            for i, (v, c) in enumerate(zip(body.inputs, client_configs, strict=True))
        ]
        run_metadata = self.config.run_metadata(request, "batch")
        resolver = self.config
        configs = (
            [
                await resolver.finish(dict(c), request, server_config, run_metadata)
                for c in client_configs
            ]
            if resolver.awaits
            else [
                resolver.finish_now(dict(c), request, server_config, run_metadata)
                for c in client_configs
            ]
        )
        wanted = self.options.include_callback_events
        aggregators = [self._aggregator(c) for c in configs] if wanted else []
        run_ids = [r if type(r := c["run_id"]) is UUID else str(r) for c in configs]
        try:
            outputs = []
            if body.inputs:
                sweeper = disconnect.sweeper(self.state)
                ticket = sweeper.watch(request._receive)
                try:
                    outputs = await abatch(runnable, values, configs)
                except asyncio.CancelledError:
                    raise cancelled(sweeper.disconnected(ticket)) from None
                finally:
                    sweeper.unwatch(ticket)
            responses = [
                {"run_id": r, "feedback_tokens": await self._tokens(r) if self._tokens else []}
                for r in run_ids
            ]
            events = [a.events for a in aggregators] if wanted else None
            metadata = {"responses": responses, "run_ids": run_ids}
            if ChatPromptValue in map(type, outputs):
                outputs = [invoke_output(output) for output in outputs]
            return run_response(self.serializer, outputs, metadata, events)
        except (ClientDisconnected, RequestError, RunnableFailed):
            raise
        except Exception as exc:
            raise to_failure(exc, self.options, ",".join(map(str, run_ids))) from exc

    async def _streaming(
        self,
        kind: StreamKind,
        request: Request,
        config_hash: str,
        server_config: RunnableConfig | None,
    ) -> Response:
        body, value, client_config, runnable = self._parse(
            await read_body(request, self.options.max_body_size), kind, config_hash
        )
        resolver = self.config
        if resolver.awaits:
            run_metadata = resolver.run_metadata(request, kind)
            config = await resolver.finish(client_config, request, server_config, run_metadata)
        else:
            config = resolver.run_config(client_config, request, server_config, kind)
        # The response is sent after this returns, in this task: its in-flight count
        # and disconnect watch find the app's state as the current one.
        state.use(self.state)
        run_id = str(config["run_id"])
        aggregator = self._aggregator(config, body.callback_events)
        options = self.options
        source, encode = event_source(runnable, kind, value, config, body.filters or {}, options)
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
            first, failed = DONE, to_failure(exc, options, run_id)
            if failed.status_code != 500:
                # An error_mapper chose this status; nothing was sent yet, so it
                # can still be the response's. A plain failure is an `error` event
                # in a 200 stream, where LangServe's clients look for it.
                if tokens is not None:
                    tokens.cancel()
                raise failed from exc
        events = frames(
            source,
            first,
            encode,
            run_id,
            aggregator,
            emit=encode_record,
            emit_data=encode_data,
            options=options,
            tokens=tokens,
            failed=failed,
        )
        return EventStreamResponse(events, cancelled_frame=encode_record(shutdown_record(run_id)))

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
        # The per-request modifier runs here too (LangServe skipped it), so
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
        # auth covers the page too (LangServe skipped it).
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
