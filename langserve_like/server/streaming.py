"""The one event generator behind /stream, /stream_log and /stream_events.

`event_source` is the only place the three differ (which langchain-core stream to
read, and how one item becomes a `data` payload); `frames` turns any of them into
the sequence of event records `metadata, data*, end` (or `..., error`). Records are
`(event, JSON payload or None, id or None)` tuples, not bytes: `frames` hands each to
its `emit` function, which for an HTTP response is `sse.encode_record` (so the bytes
come out of the same generator, without a second one per chunk) and for a
background run can keep the record in its event log to replay it later. Every error
record is built here (`error_record`, `shutdown_record`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, Literal, TypeVar

import orjson
from langchain_core.runnables import Runnable, RunnableConfig

from langserve_like.exceptions import RunnableFailed
from langserve_like.serialization import Serializer
from langserve_like.server.failures import shutting_down, to_failure
from langserve_like.server.options import RouteOptions
from langserve_like.server.sse import EventRecord
from langserve_like.wire import CALLBACK, END, ERROR, METADATA

__all__ = ["DONE", "StreamKind", "error_record", "event_source", "frames", "shutdown_record"]

_Out = TypeVar("_Out")
StreamKind = Literal["stream", "stream_log", "stream_events"]
Encode = Callable[[Any], "bytes | None"]
DONE: Any = object()


def _public_ops(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log patches without `__`-prefixed metadata, which stream_events strips too."""
    public = ops
    for i, op in enumerate(ops):
        value = op.get("value")
        metadata = value.get("metadata") if isinstance(value, dict) else None
        if isinstance(metadata, dict) and any(key.startswith("__") for key in metadata):
            if public is ops:
                public = list(ops)  # the patches are langchain-core's: copy, never mutate
            clean = {k: v for k, v in metadata.items() if not k.startswith("__")}
            public[i] = {**op, "value": {**op["value"], "metadata": clean}}
    return public


def _public_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata` without its `__`-prefixed keys (itself if it has none)."""
    for key in metadata:
        if key.startswith("__"):
            return {k: v for k, v in metadata.items() if not k.startswith("__")}
    return metadata


def _agen(iterator: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    """langchain-core returns async generators; say so to the type checker."""
    return iterator  # type: ignore[return-value]


def event_source(
    runnable: Runnable[Any, Any],
    kind: StreamKind,
    value: Any,
    config: RunnableConfig,
    filters: dict[str, Any],
    options: RouteOptions,
) -> tuple[AsyncGenerator[Any, None], Encode]:
    """The one place that differs between the three streaming endpoints."""
    dumps = options.serializer.dumps
    allow_list = options.stream_log_name_allow_list
    if kind == "stream":
        return _agen(runnable.astream(value, config)), dumps
    if allow_list is not None and not allow_list:
        # An empty allow list allows nothing: the run happens, no data event is sent.
        return _agen(runnable.astream(value, config)), lambda _: None
    if kind == "stream_log":
        if allow_list is not None:
            asked = filters.get("include_names")
            filters = {
                **filters,
                "include_names": [n for n in (asked or allow_list) if n in allow_list],
            }
        log = runnable.astream_log(value, config, diff=True, **filters)
        return _agen(log), lambda patch: dumps({"ops": _public_ops(patch.ops)})
    root_id = str(config["run_id"])
    allow = allow_list
    # The metadata of the last event and what a client sees of it: the events of one
    # run carry the same dict (langchain-core's record of the run), so the run
    # metadata is stripped once per run rather than once per event (~5,000
    # instructions per chunk). The dict is kept, so its id is not reused.
    last: list[Any] = [None, None]

    def encode_event_dict(event: Any) -> bytes | None:
        if allow is not None and event.get("run_id") != root_id and event.get("name") not in allow:
            return None
        metadata = event.get("metadata")
        if metadata:
            if metadata is not last[0]:
                last[0], last[1] = metadata, _public_metadata(metadata)
            if last[1] is not metadata:
                event = {**event, "metadata": last[1]}
        return dumps(event)

    events = runnable.astream_events(
        value, config, version=options.astream_events_version, **filters
    )
    return _agen(events), encode_event_dict


async def frames(
    source: AsyncGenerator[Any, None],
    first: Any,
    encode: Encode,
    run_id: str,
    aggregator: Any,
    *,
    emit: Callable[[EventRecord], _Out],
    emit_data: Callable[[bytes], _Out],
    options: RouteOptions,
    tokens: Awaitable[list[dict[str, Any]]] | None = None,
    failed: RunnableFailed | None = None,
) -> AsyncGenerator[_Out, None]:
    """metadata, data*, end (or error): the one generator behind all three streams.

    Callback events recorded meanwhile go out as `callback` records, before the
    `error` record too, so a client's tracer sees the server run fail. `failed`:
    the run failed before its first item. `emit_data(payload)` is
    `emit((DATA, payload, None))`, the record of every chunk, built without the tuple.
    """
    yield emit((METADATA, await _metadata(run_id, tokens), None))
    if failed is not None:
        yield emit(error_record(failed, run_id))
        return
    serializer = options.serializer
    item = first
    try:
        if aggregator is None:
            # The usual stream: a loop of its own without the callback checks and
            # with `async for` rather than an `anext` awaitable per chunk, ~1,000
            # instructions less per chunk.
            if item is not DONE:
                payload = encode(item)
                if payload is not None:
                    yield emit_data(payload)
                async for item in source:
                    payload = encode(item)
                    if payload is not None:
                        yield emit_data(payload)
        while item is not DONE and aggregator is not None:
            payload = encode(item)
            if payload is not None:
                yield emit_data(payload)
            if aggregator.events:
                for record in _callback_records(aggregator, serializer):
                    yield emit(record)
            item = await anext(source, DONE)
    except Exception as exc:
        if aggregator is not None and aggregator.events:
            for record in _callback_records(aggregator, serializer):
                yield emit(record)
        yield emit(error_record(to_failure(exc, options, run_id), run_id))
        return
    finally:
        await source.aclose()
    if aggregator is not None and aggregator.events:
        for record in _callback_records(aggregator, serializer):
            yield emit(record)
    yield emit((END, None, None))


async def _metadata(run_id: str, tokens: Awaitable[list[dict[str, Any]]] | None) -> bytes:
    metadata: dict[str, Any] = {"run_id": run_id}
    if tokens is not None:
        metadata["feedback_tokens"] = await tokens
    # The metadata and error payloads are written as LangServe wrote them, with
    # json.dumps's spacing, so the frame is byte-identical.
    return json.dumps(metadata).encode()


def error_record(failed: RunnableFailed, run_id: str) -> EventRecord:
    """The `error` event a stream ends with when its run failed."""
    error = {"status_code": failed.status_code, "message": failed.message, "run_id": run_id}
    return (ERROR, json.dumps(error).encode(), None)


def shutdown_record(run_id: str) -> EventRecord:
    """The `error` event of a stream the server cancels while shutting down (503).

    Compact JSON, unlike `error_record`: LangServe had no such event to match, and
    clients of earlier versions of this one received it so.
    """
    failed = shutting_down(run_id)
    error = {"status_code": failed.status_code, "message": failed.message, "run_id": run_id}
    return (ERROR, orjson.dumps(error), None)


def _callback_records(aggregator: Any, serializer: Serializer) -> list[EventRecord]:
    records: list[EventRecord] = [(CALLBACK, serializer.dumps(e), None) for e in aggregator.events]
    aggregator.events.clear()
    return records
