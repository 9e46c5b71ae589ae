"""Compiled LangGraph graphs through the LangServe endpoints.

A graph is a `Runnable`, so the endpoints serve it as they serve any chain; this
module supplies what differs:

* the input schema accepts what `graph.invoke` accepts: every state key may be
  left out (a node fills it in), unless the graph declares an `input_schema`
  whose keys are required; the types are still validated;
* the body may carry the run `context` (LangGraph 1.x `context_schema`, named as
  the LangGraph SDK names it), validated against the context schema, and on
  `/stream` a `stream_mode`; `/context_schema` describes the context;
* a run that calls `interrupt()` cannot be resumed without threads, so it ends
  with a clear error instead of an output that looks finished.

langgraph is imported only when a route serves one of its graphs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any, Literal, get_args, get_origin

from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig
from pydantic import BaseModel, Field, RootModel, TypeAdapter, ValidationError, create_model
from typing_extensions import NotRequired, Required, TypedDict, get_type_hints, is_typeddict

from langserve_like.exceptions import RequestError, RunnableFailed
from langserve_like.schema import typed_dict_error
from langserve_like.server.models import RequestModels
from langserve_like.wire import field_error

__all__ = ["STREAM_MODES", "GraphRoute", "GraphRun", "as_graph"]

StreamMode = Literal["values", "updates", "messages", "custom"]
STREAM_MODES: tuple[str, ...] = get_args(StreamMode)
NEEDS_THREADS = (
    "This graph called interrupt(), which pauses a run until it is resumed; resuming "
    "needs threads: add_routes(..., runs=...)"
)
COMMAND_NEEDS_THREADS = (
    "Command(resume=...) resumes an interrupted run, which needs threads: add_routes(..., runs=...)"
)
_INTERRUPT = "__interrupt__"
# The endpoints whose body may carry a `context` (`stream_mode`: /stream only).
_CONTEXT_ENDPOINTS = frozenset({"invoke", "batch", "stream", "stream_log", "stream_events"})


def as_graph(runnable: Runnable[Any, Any]) -> Any:
    """The compiled LangGraph graph `runnable` is, or None (also without langgraph)."""
    if "langgraph" not in type(runnable).__module__:
        return None  # not a graph; langgraph need not be importable at all
    from langgraph.pregel import Pregel

    return runnable if isinstance(runnable, Pregel) else None


def _check_checkpointer(graph: Any) -> None:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    if isinstance(graph.checkpointer, BaseCheckpointSaver):
        raise ValueError(
            "This graph was compiled with its own checkpointer, which the stateless "
            "endpoints would share between all clients without a thread per client. "
            "Compile it without one (builder.compile()); threads: add_routes(..., runs=...)"
        )


_REQUIRED: Any = Required  # subscripted with runtime values, not static types
_NOT_REQUIRED: Any = NotRequired
_TYPED_DICT: Any = TypedDict  # typing_extensions': pydantic refuses typing's before 3.12


def _plain(hint: Any) -> Any:
    """`Required[X]` / `NotRequired[X]` -> X, so the key's requiredness is set once."""
    while get_origin(hint) in (Required, NotRequired):
        hint = get_args(hint)[0]
    return hint


def _input_model(graph: Any, name: str) -> type[BaseModel] | None:
    """The partial-state model, or None to keep LangGraph's own (pydantic or dataclass state)."""
    builder: Any = getattr(graph, "builder", None)
    schema = getattr(builder, "input_schema", None)
    if schema is None or not is_typeddict(schema):
        return None
    declared = schema is not builder.state_schema
    required = schema.__required_keys__ if declared else frozenset()
    fields = {
        key: _REQUIRED[_plain(hint)] if key in required else _NOT_REQUIRED[_plain(hint)]
        for key, hint in get_type_hints(schema, include_extras=True).items()
    }
    # A TypedDict so that validation keeps exactly the keys the client sent: a key
    # filled with a default would overwrite the state's channel with it.
    partial: Any = _TYPED_DICT(schema.__name__, fields)
    model: type[BaseModel] = create_model(name, __base__=RootModel[partial])
    return model


def _json_object(value: Any, loc: tuple[str | int, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(422, [field_error(loc, "must be a JSON object", "dict_type")])
    return value


class GraphRoute:
    """What one route needs to know about the graph it serves; built at add_routes time."""

    def __init__(self, graph: Any, namespace: str, *, typed_input: bool) -> None:
        _check_checkpointer(graph)
        self.graph = graph
        try:
            self.input_model = None if typed_input else _input_model(graph, f"{namespace}Input")
            schema = graph.context_schema
            self._context = TypeAdapter(schema) if schema is not None else None
            self.context_json: dict[str, Any] = (
                self._context.json_schema() if self._context is not None else {"type": "object"}
            )
        except Exception as exc:
            clear = typed_dict_error(exc, "graph's state or context schema")
            if clear is None:
                raise
            raise clear from None

    def config_model(self, config_keys: Sequence[str]) -> type[BaseModel]:
        # Runnable's own: LangGraph's override is deprecated and offers the context
        # schema as `configurable`, which is not where a client sends it here.
        return Runnable.config_schema(self.graph, include=list(config_keys))

    def _context_value(self, value: Any) -> Any:
        if self._context is None:
            return _json_object(value, ("context",))
        try:
            return self._context.validate_python(_json_object(value, ("context",)))
        except ValidationError as exc:
            detail = [
                field_error(("context", *e["loc"]), e["msg"], e["type"])
                for e in exc.errors(include_url=False, include_input=False)
            ]
            raise RequestError(422, detail) from None

    def take(self, runnable: Runnable[Any, Any], body: Any, endpoint: str) -> GraphRun:
        """Removes the graph's body keys from `body`; the run they ask for, as a Runnable."""
        kwargs: dict[str, Any] = {}
        tagged = False
        if isinstance(body, dict):
            if "command" in body:
                raise RequestError(
                    422,
                    [field_error(("command",), COMMAND_NEEDS_THREADS)],
                )
            # null is the same as leaving the key out, as for the other optional keys.
            if "context" in body and endpoint in _CONTEXT_ENDPOINTS:
                context = body.pop("context")
                if context is not None:
                    kwargs["context"] = self._context_value(context)
            if "stream_mode" in body and endpoint == "stream":
                modes = body.pop("stream_mode")
                if modes is not None:
                    kwargs["stream_mode"] = _stream_modes(modes)
                    tagged = True
        return GraphRun(bound=runnable, kwargs=kwargs, tagged=tagged)

    def docs_models(self, models: RequestModels) -> RequestModels:
        """LangServe's request bodies plus `context` (and `stream_mode` on /stream)."""
        context: Any = self.graph.context_schema if self._context is not None else dict[str, Any]
        extra = {"context": (context | None, Field(default=None, description="Run context"))}
        modes = (
            StreamMode | list[StreamMode] | None,
            Field(default=None, description=f"LangGraph stream modes: {', '.join(STREAM_MODES)}"),
        )

        def extended(model: type[BaseModel], **fields: Any) -> type[BaseModel]:
            built: type[BaseModel] = create_model(model.__name__, __base__=model, **fields)
            return built

        return replace(
            models,
            invoke_request=extended(models.invoke_request, **extra),
            batch_request=extended(models.batch_request, **extra),
            stream_request=extended(models.stream_request, **extra, stream_mode=modes),
            stream_log_request=extended(models.stream_log_request, **extra),
            stream_events_request=extended(models.stream_events_request, **extra),
        )


def _stream_modes(value: Any) -> list[str]:
    modes = value if isinstance(value, list) else [value]
    if not modes or not all(isinstance(m, str) and m in STREAM_MODES for m in modes):
        raise RequestError(
            422,
            [
                field_error(
                    ("stream_mode",),
                    f"stream_mode must be one of {', '.join(STREAM_MODES)}, or a list of them",
                    "enum",
                )
            ],
        )
    return list(dict.fromkeys(modes))


def _interrupted(chunk: Any) -> bool:
    return isinstance(chunk, dict) and _INTERRUPT in chunk


class GraphRun(RunnableBinding[Any, Any]):
    """The graph with one request's `context` / `stream_mode`, which refuses interrupts.

    With a `stream_mode` the graph yields `(mode, chunk)` pairs; each becomes
    `{"mode": ..., "data": ...}` so every `data` event says its mode.
    """

    tagged: bool = False

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        output = await super().ainvoke(input, config, **kwargs)
        if _interrupted(output):
            raise RunnableFailed(409, NEEDS_THREADS)
        return output

    async def abatch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        outputs = await super().abatch(
            inputs, config, return_exceptions=return_exceptions, **kwargs
        )
        if any(_interrupted(output) for output in outputs):
            raise RunnableFailed(409, NEEDS_THREADS)
        return outputs

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        async for chunk in super().astream(input, config, **kwargs):
            if self.tagged:
                mode, data = chunk
                if _interrupted(data):
                    raise RunnableFailed(409, NEEDS_THREADS)
                yield {"mode": mode, "data": data}
            else:
                if _interrupted(chunk):
                    raise RunnableFailed(409, NEEDS_THREADS)
                yield chunk

    async def astream_events(  # type: ignore[override]
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        root = str((config or {}).get("run_id"))
        async for event in super().astream_events(input, config, **kwargs):
            data = event.get("data") or {}
            if event.get("run_id") == root and _interrupted(data.get("chunk")):
                raise RunnableFailed(409, NEEDS_THREADS)
            yield event
