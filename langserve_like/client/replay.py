"""Callback events sent by a server, replayed into the client's own handlers.

`replay` / `areplay` feed such events (already decoded) into the caller's callback
handlers through an `EventReplayer`: every server run id is replaced by a fresh one,
and server root runs are re-parented under the client's own run, so a tracer on the
client sees the server-side work as child runs of the remote call. The server
records them with `langserve_like.server.callbacks.EventAggregator`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.callbacks.manager import ahandle_event, handle_event

from langserve_like.exceptions import RemoteRunError
from langserve_like.wire import EVENT_TYPES

__all__ = ["EventReplayer", "ReplayCall", "areplay", "replay"]


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
