"""The one event generator behind /stream, /stream_log and /stream_events.

`event_source` is the only place the three differ (which langchain-core stream to
read, and how one item becomes a `data` payload); `frames` turns any of them into
the wire sequence `metadata, data*, end` (or `..., error`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig

from langserve_like.exceptions import RunnableFailed
from langserve_like.serialization import Serializer
from langserve_like.server.sse import encode_event
from langserve_like.wire import CALLBACK, DATA, END, ERROR, METADATA

__all__ = ["DONE", "StreamKind", "event_source", "frames"]

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


def _agen(iterator: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    """langchain-core returns async generators; say so to the type checker."""
    return iterator  # type: ignore[return-value]


def event_source(
    runnable: Runnable[Any, Any],
    kind: StreamKind,
    value: Any,
    config: RunnableConfig,
    filters: dict[str, Any],
    *,
    serializer: Serializer,
    allow_list: frozenset[str] | None,
    events_version: Literal["v1", "v2"],
) -> tuple[AsyncGenerator[Any, None], Encode]:
    """The one place that differs between the three streaming endpoints."""
    dumps = serializer.dumps
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

    def encode_event_dict(event: Any) -> bytes | None:
        if allow is not None and event.get("run_id") != root_id and event.get("name") not in allow:
            return None
        metadata = event.get("metadata")
        if metadata and any(key.startswith("__") for key in metadata):
            event = {
                **event,
                "metadata": {k: v for k, v in metadata.items() if not k.startswith("__")},
            }
        return dumps(event)

    events = runnable.astream_events(value, config, version=events_version, **filters)
    return _agen(events), encode_event_dict


async def frames(
    source: AsyncGenerator[Any, None],
    first: Any,
    encode: Encode,
    run_id: str,
    aggregator: Any,
    *,
    serializer: Serializer,
    failure: Callable[[BaseException, Any], RunnableFailed],
    tokens: Awaitable[list[dict[str, Any]]] | None = None,
    failed: RunnableFailed | None = None,
) -> AsyncIterator[bytes]:
    """metadata, data*, end (or error): the one generator behind all three streams.

    Callback events recorded meanwhile go out as `callback` frames, before the
    `error` frame too, so a client's tracer sees the server run fail. `failed`:
    the run failed before its first item.
    """
    metadata: dict[str, Any] = {"run_id": run_id}
    if tokens is not None:
        metadata["feedback_tokens"] = await tokens
    # The metadata and error payloads are written as LangServe wrote them, with
    # json.dumps's spacing, so the frame is byte-identical.
    yield encode_event(METADATA, json.dumps(metadata).encode())
    if failed is not None:
        yield _error_frame(failed, run_id)
        return
    item = first
    try:
        while item is not DONE:
            payload = encode(item)
            if payload is not None:
                yield encode_event(DATA, payload)
            if aggregator is not None and aggregator.events:
                yield _callback_frames(aggregator, serializer)
            item = await anext(source, DONE)
    except Exception as exc:
        if aggregator is not None and aggregator.events:
            yield _callback_frames(aggregator, serializer)
        yield _error_frame(failure(exc, run_id), run_id)
        return
    finally:
        await source.aclose()
    if aggregator is not None and aggregator.events:
        yield _callback_frames(aggregator, serializer)
    yield encode_event(END)


def _error_frame(failed: RunnableFailed, run_id: str) -> bytes:
    error = {"status_code": failed.status_code, "message": failed.message, "run_id": run_id}
    return encode_event(ERROR, json.dumps(error).encode())


def _callback_frames(aggregator: Any, serializer: Serializer) -> bytes:
    frames = b"".join(encode_event(CALLBACK, serializer.dumps(e)) for e in aggregator.events)
    aggregator.events.clear()
    return frames
