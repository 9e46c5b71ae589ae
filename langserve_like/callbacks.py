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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackHandler

from langserve_like.serialization import Serializer, WellKnownLCSerializer

__all__ = [
    "INTERNAL_ERROR",
    "EventAggregator",
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


def _public_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if metadata is None:
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

    def _record(
        self,
        type_: str,
        args: Mapping[str, Any],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None,
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        event: dict[str, Any] = {
            "type": type_,
            "run_id": run_id,
            "parent_run_id": parent_run_id,
            "tags": list(tags) if tags is not None else None,
            "metadata": _public_metadata(metadata),
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

    async def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._record(
            "on_chain_start",
            {"serialized": serialized, "inputs": inputs},
            run_id=run_id,
            parent_run_id=parent_run_id,
            tags=tags,
            metadata=metadata,
            kwargs=kwargs,
        )

    async def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end(
            "on_chain_end", "outputs", outputs, run_id, parent_run_id, tags, kwargs
        )

    async def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end("on_chain_error", "error", error, run_id, parent_run_id, tags, kwargs)

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._record(
            "on_chat_model_start",
            {"serialized": serialized, "messages": messages},
            run_id=run_id,
            parent_run_id=parent_run_id,
            tags=tags,
            metadata=metadata,
            kwargs=kwargs,
        )

    async def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._record(
            "on_llm_start",
            {"serialized": serialized, "prompts": prompts},
            run_id=run_id,
            parent_run_id=parent_run_id,
            tags=tags,
            metadata=metadata,
            kwargs=kwargs,
        )

    async def on_llm_end(
        self,
        response: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end(
            "on_llm_end", "response", response, run_id, parent_run_id, tags, kwargs
        )

    async def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end("on_llm_error", "error", error, run_id, parent_run_id, tags, kwargs)

    async def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._record(
            "on_tool_start",
            {"serialized": serialized, "input_str": input_str},
            run_id=run_id,
            parent_run_id=parent_run_id,
            tags=tags,
            metadata=metadata,
            kwargs=kwargs,
        )

    async def on_tool_end(
        self,
        output: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end("on_tool_end", "output", output, run_id, parent_run_id, tags, kwargs)

    async def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end("on_tool_error", "error", error, run_id, parent_run_id, tags, kwargs)

    async def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._record(
            "on_retriever_start",
            {"serialized": serialized, "query": query},
            run_id=run_id,
            parent_run_id=parent_run_id,
            tags=tags,
            metadata=metadata,
            kwargs=kwargs,
        )

    async def on_retriever_end(
        self,
        documents: Sequence[Any],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end(
            "on_retriever_end",
            "documents",
            documents,
            run_id,
            parent_run_id,
            tags,
            kwargs,
        )

    async def on_retriever_error(
        self,
        error: BaseException,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end(
            "on_retriever_error", "error", error, run_id, parent_run_id, tags, kwargs
        )

    async def on_agent_action(
        self,
        action: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end(
            "on_agent_action", "action", action, run_id, parent_run_id, tags, kwargs
        )

    async def on_agent_finish(
        self,
        finish: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end(
            "on_agent_finish", "finish", finish, run_id, parent_run_id, tags, kwargs
        )

    def _end(
        self,
        type_: str,
        name: str,
        value: Any,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None,
        tags: list[str] | None,
        kwargs: dict[str, Any],
    ) -> None:
        # End/error/agent events carry no metadata argument (LangServe sends null).
        self._record(
            type_,
            {name: value},
            run_id=run_id,
            parent_run_id=parent_run_id,
            tags=tags,
            metadata=None,
            kwargs=kwargs,
        )
