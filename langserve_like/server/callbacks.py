"""Callback events: recorded on the server, replayed into the client's handlers.

Server side, `EventAggregator` is attached to one request (one batch item) and
records what the runnable's callback manager reports, as plain dicts in LangServe's
shape (protocol.md §10)::

    {"type": "on_chain_start", "run_id": UUID, "parent_run_id": UUID | None,
     "tags": [...], "metadata": {...} | None, <the event's own arguments>,
     "kwargs": {<the rest>}}

Two differences from LangServe: metadata keys starting with `__` (server internals
such as `__useragent`) are dropped, and exceptions become
`{"status_code": 500, "message": "Internal Server Error"}` so no exception text
reaches the client. LangChain objects (messages, `LLMResult`, documents) are kept as
they are: the route's serializer encodes them.

Client side, `replay_events` / `areplay_events` feed such events (already decoded)
into the caller's callback manager: every server run id is replaced by a fresh
one, and server root runs are re-parented under the client's own run, so a tracer
on the client sees the server-side work as child runs of the remote call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.callbacks.manager import ahandle_event, handle_event

from langserve_like.exceptions import RemoteRunError
from langserve_like.serialization import Serializer, WellKnownLCSerializer

__all__ = [
    "INTERNAL_ERROR",
    "EventAggregator",
    "EventReplayer",
    "ReplayCall",
    "areplay",
    "replay",
]

INTERNAL_ERROR: Mapping[str, Any] = {
    "status_code": 500,
    "message": "Internal Server Error",
}

# Event type -> (names of its positional arguments, the handler flag that mutes it).
EVENT_TYPES: Mapping[str, tuple[tuple[str, ...], str]] = {
    "on_chain_start": (("serialized", "inputs"), "ignore_chain"),
    "on_chain_end": (("outputs",), "ignore_chain"),
    "on_chain_error": (("error",), "ignore_chain"),
    "on_chat_model_start": (("serialized", "messages"), "ignore_chat_model"),
    "on_llm_start": (("serialized", "prompts"), "ignore_llm"),
    "on_llm_end": (("response",), "ignore_llm"),
    "on_llm_error": (("error",), "ignore_llm"),
    "on_tool_start": (("serialized", "input_str"), "ignore_agent"),
    "on_tool_end": (("output",), "ignore_agent"),
    "on_tool_error": (("error",), "ignore_agent"),
    "on_retriever_start": (("serialized", "query"), "ignore_retriever"),
    "on_retriever_end": (("documents",), "ignore_retriever"),
    "on_retriever_error": (("error",), "ignore_retriever"),
    "on_agent_action": (("action",), "ignore_agent"),
    "on_agent_finish": (("finish",), "ignore_agent"),
}


def _scrub(value: Any) -> Any:
    """Hide exceptions: their text may hold secrets (paths, keys, SQL)."""
    return dict(INTERNAL_ERROR) if isinstance(value, BaseException) else value


def _public_metadata(metadata: Any) -> dict[str, Any] | None:
    if not isinstance(metadata, Mapping):
        return None
    return {k: v for k, v in metadata.items() if not str(k).startswith("__")}


class EventAggregator(AsyncCallbackHandler):
    """Records the callback events of one server request (protocol.md §10).

    `events` lists them in order. `on_event`, if given, is called with each event
    as soon as it is recorded (the stream endpoints forward them as SSE frames).
    Every event is checked against `serializer` when recorded; a value it cannot
    encode is replaced by its `repr`, so one odd callback argument can never fail
    the whole response.
    """

    # Record in the order the callback manager reports, not concurrently.
    run_inline = True

    def __init__(
        self,
        *,
        serializer: Serializer | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.events: list[dict[str, Any]] = []
        self._serializer = serializer or WellKnownLCSerializer()
        self._on_event = on_event

    def _record(self, type_: str, args: Mapping[str, Any], kwargs: dict[str, Any]) -> None:
        # End, error and agent events get no metadata argument: LangServe sends null.
        event: dict[str, Any] = {
            "type": type_,
            "run_id": kwargs.pop("run_id"),
            "parent_run_id": kwargs.pop("parent_run_id", None),
            "tags": kwargs.pop("tags", None),
            "metadata": _public_metadata(kwargs.pop("metadata", None)),
            **{name: _scrub(value) for name, value in args.items()},
            "kwargs": {str(k): _scrub(v) for k, v in kwargs.items()},
        }
        event = self._encodable(event)
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    def _encodable(self, event: dict[str, Any]) -> dict[str, Any]:
        try:
            self._serializer.dumps(event)
        except (TypeError, ValueError):
            return {key: self._encodable_value(value) for key, value in event.items()}
        return event

    def _encodable_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._encodable_value(v) for k, v in value.items()}
        try:
            self._serializer.dumps(value)
        except (TypeError, ValueError):
            return repr(value)
        return value

    # The signatures are AsyncCallbackHandler's; run_id, parent_run_id, tags and
    # metadata arrive as keywords and are picked out of `kwargs` by `_record`.

    async def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self._record("on_chain_start", {"serialized": serialized, "inputs": inputs}, kwargs)

    async def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        self._record("on_chain_end", {"outputs": outputs}, kwargs)

    async def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        self._record("on_chain_error", {"error": error}, kwargs)

    async def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        args = {"serialized": serialized, "messages": messages}
        self._record("on_chat_model_start", args, kwargs)

    async def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self._record("on_llm_start", {"serialized": serialized, "prompts": prompts}, kwargs)

    async def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self._record("on_llm_end", {"response": response}, kwargs)

    async def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self._record("on_llm_error", {"error": error}, kwargs)

    async def on_tool_start(self, serialized: Any, input_str: str, **kwargs: Any) -> None:
        self._record("on_tool_start", {"serialized": serialized, "input_str": input_str}, kwargs)

    async def on_tool_end(self, output: Any, **kwargs: Any) -> None:
        self._record("on_tool_end", {"output": output}, kwargs)

    async def on_tool_error(self, error: BaseException, **kwargs: Any) -> None:
        self._record("on_tool_error", {"error": error}, kwargs)

    async def on_retriever_start(self, serialized: Any, query: str, **kwargs: Any) -> None:
        self._record("on_retriever_start", {"serialized": serialized, "query": query}, kwargs)

    async def on_retriever_end(self, documents: Any, **kwargs: Any) -> None:
        self._record("on_retriever_end", {"documents": documents}, kwargs)

    async def on_retriever_error(self, error: BaseException, **kwargs: Any) -> None:
        self._record("on_retriever_error", {"error": error}, kwargs)

    async def on_agent_action(self, action: Any, **kwargs: Any) -> None:
        self._record("on_agent_action", {"action": action}, kwargs)

    async def on_agent_finish(self, finish: Any, **kwargs: Any) -> None:
        self._record("on_agent_finish", {"finish": finish}, kwargs)


# --- client side ------------------------------------------------------------------

_RESERVED = frozenset({"type", "run_id", "parent_run_id", "tags", "metadata", "kwargs"})


@dataclass(frozen=True)
class ReplayCall:
    """One handler call: `handle_event(handlers, name, ignore, *args, **kwargs)`."""

    name: str
    ignore_condition: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _as_error(value: Any) -> BaseException:
    if isinstance(value, BaseException):
        return value
    if isinstance(value, Mapping):
        status = value.get("status_code")
        message = value.get("message")
        return RemoteRunError(
            status if isinstance(status, int) else 500,
            message if isinstance(message, str) else "Internal Server Error",
        )
    return RemoteRunError()


@dataclass
class EventReplayer:
    """Turns decoded server events into calls on the client's handlers.

    Each server run id gets a fresh id (consistently, across all the events of one
    response or stream), and runs whose parent the client has not seen (the server's
    root run) become children of `parent_run_id`, the client's own run. Events of an
    unknown type, or without a usable run id, are skipped: a newer server may send
    more than this client understands.

    It also remembers which replayed runs are still open, so that when a stream
    breaks off (an `error` event, a timeout) `abort()` can end them with an error
    instead of leaving them running forever in the client's tracer.
    """

    parent_run_id: uuid.UUID
    _ids: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    _open: dict[uuid.UUID, str] = field(default_factory=dict)

    def abort(self, error: BaseException) -> list[ReplayCall]:
        """`on_*_error` calls for the runs still open, innermost first."""
        calls = [
            ReplayCall(
                f"on_{kind}_error",
                EVENT_TYPES[f"on_{kind}_error"][1],
                (error,),
                {"run_id": run_id, "parent_run_id": None, "tags": []},
            )
            for run_id, kind in reversed(self._open.items())
        ]
        self._open.clear()
        return calls

    def call(self, event: Any) -> ReplayCall | None:
        if not isinstance(event, Mapping):
            return None
        spec = EVENT_TYPES.get(str(event.get("type")))
        server_run_id = _as_uuid(event.get("run_id"))
        if spec is None or server_run_id is None:
            return None
        arg_names, ignore_condition = spec
        run_id = self._ids.setdefault(server_run_id, uuid.uuid4())
        server_parent = _as_uuid(event.get("parent_run_id"))
        parent = self._ids.get(server_parent) if server_parent else None
        args = tuple(
            _as_error(event.get(name)) if name == "error" else event.get(name) for name in arg_names
        )
        extra = event.get("kwargs")
        kwargs = {
            str(k): v
            for k, v in (extra.items() if isinstance(extra, Mapping) else ())
            if k not in _RESERVED and k not in arg_names
        }
        kwargs.update(
            run_id=run_id,
            parent_run_id=parent or self.parent_run_id,
            tags=event.get("tags") or [],
        )
        if arg_names[0] == "serialized":  # only start events take metadata
            metadata = event.get("metadata")
            kwargs["metadata"] = dict(metadata) if isinstance(metadata, Mapping) else {}
        self._track(event["type"], run_id)
        return ReplayCall(event["type"], ignore_condition, args, kwargs)

    def _track(self, type_: str, run_id: uuid.UUID) -> None:
        kind, _, stage = type_[3:].rpartition("_")  # "on_chat_model_start" -> chat_model
        if stage == "start":
            self._open[run_id] = "llm" if kind == "chat_model" else kind
        elif stage in ("end", "error"):
            self._open.pop(run_id, None)


def replay(handlers: Sequence[BaseCallbackHandler], calls: Iterable[ReplayCall]) -> None:
    """Deliver `calls` to `handlers` in order (sync callers)."""
    for call in calls:
        handle_event(list(handlers), call.name, call.ignore_condition, *call.args, **call.kwargs)


async def areplay(handlers: Sequence[BaseCallbackHandler], calls: Iterable[ReplayCall]) -> None:
    """Deliver `calls` to `handlers` in order (async callers)."""
    for call in calls:
        await ahandle_event(
            list(handlers), call.name, call.ignore_condition, *call.args, **call.kwargs
        )
