"""Callback events recorded on the server, to send to the client that asked.

`EventAggregator` is attached to one request (one batch item) and records what the
runnable's callback manager reports, as plain dicts in LangServe's shape::

    {"type": "on_chain_start", "run_id": UUID, "parent_run_id": UUID | None,
     "tags": [...], "metadata": {...} | None, <the event's own arguments>,
     "kwargs": {<the rest>}}

Two differences from LangServe: metadata keys starting with `__` (server internals
such as `__useragent`) are dropped, and exceptions become
`{"status_code": 500, "message": "Internal Server Error"}` so no exception text
reaches the client. LangChain objects (messages, `LLMResult`, documents) are kept as
they are: the route's serializer encodes them. The client replays them with
`langserve_like.client.replay`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.callbacks import AsyncCallbackHandler

from langserve_like.serialization import Serializer, WellKnownLCSerializer
from langserve_like.wire import INTERNAL_ERROR

__all__ = ["EventAggregator"]


def _scrub(value: Any) -> Any:
    """Hide exceptions: their text may hold secrets (paths, keys, SQL)."""
    return dict(INTERNAL_ERROR) if isinstance(value, BaseException) else value


def _public_metadata(metadata: Any) -> dict[str, Any] | None:
    if not isinstance(metadata, Mapping):
        return None
    return {k: v for k, v in metadata.items() if not str(k).startswith("__")}


class EventAggregator(AsyncCallbackHandler):
    """Records the callback events of one server request.

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
