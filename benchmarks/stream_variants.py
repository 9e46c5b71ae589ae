"""Prototypes of the per-chunk savings that `stream_cost.py` measures (issue 16).

Each variant monkeypatches one piece of langserve_like's streaming path, at import
time of `apps/ours_variant.py`, as the change proposed in RESULTS.md would make it,
so what each change saves is measured under callgrind before anyone edits the
library. Not used by langserve_like itself, and not a supported way to run it.

- `inline_writer`: the producer writes a frame itself when the coalescing window
  is over and nothing is pending, instead of waking the sender task for every frame;
  frames that come within the window still go through the timer and the task.
- `own_task`: the response's loop runs in a task of its own, which the request's
  task awaits once. Each chunk suspends once (langchain-core awaits a task per
  chunk), and a suspension and its resumption pass through every coroutine between
  the task and the generator: in uvicorn's request task that is the whole ASGI
  stack, ~6 levels more than the raw route's (the one route per `add_routes`, its
  endpoint, `EventStreamResponse.__call__`, `_stream`, `frames`).
- `encode_event`: frame heads built once per event name instead of per frame.
- `frames_loop`: `async for` over the source instead of `await anext(source, DONE)`,
  and the callback-aggregator checks out of the per-chunk loop when there is none.
- `dumps`: the `/stream` payload encoder bound to `orjson.dumps` directly rather
  than through `Serializer.dumps`.

`window0` is not a change but a measuring aid: with the 10 ms coalescing window at
0, every frame is its own write, as on the raw route, so the per-chunk difference no
longer depends on how fast valgrind runs on a loaded machine.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import orjson

from langserve_like.serialization import WellKnownLCSerializer, default_encoder
from langserve_like.server import handler, sse, streaming

VARIANTS = ("inline_writer", "own_task", "encode_event", "frames_loop", "dumps")
#: Not a proposed change: every frame its own write, as the raw route does.
NO_COALESCING = "window0"


class InlineFrameWriter(sse.FrameWriter):
    """`FrameWriter` whose producer sends by itself when no coalescing is due."""

    __slots__ = ("_sending",)

    def __init__(self, send: Any, **kwargs: Any) -> None:
        super().__init__(send, **kwargs)
        self._sending = False

    def write(self, frame: bytes) -> None:
        # Only buffer: `wait_for_room`, awaited right after every write, decides.
        self._frames.append(frame)
        self._size += len(frame)

    async def wait_for_room(self) -> None:
        if self._wake.is_set() or self._sending or self._timer is not None:
            await super().wait_for_room()  # a write is already on its way
            return
        delay = self._hold_until - self._loop.time()
        if delay > 0 and self._size < self._high_water:
            self._timer = self._loop.call_later(delay, self._due)
            return
        frames = self._frames
        body = frames[0] if len(frames) == 1 else b"".join(frames)
        frames.clear()
        self._size = 0
        self._sending = True
        try:
            await self._send({"type": "http.response.body", "body": body, "more_body": True})
        except Exception as exc:  # the client is gone: stop as the sender task would
            self.error = exc
            raise asyncio.CancelledError from None
        finally:
            self._sending = False
        self._hold_until = self._loop.time() + self._window

    async def _run(self) -> None:
        # `FrameWriter._run` as the proposed change would make it (with `_sending`):
        # a copy on purpose, the library is not edited from here.
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                body = b"".join(self._frames)
                self._frames.clear()
                self._size = 0
                self._sending = True
                try:
                    if self._closing:
                        await self._send({"type": "http.response.body", "body": body})
                        return
                    if body:
                        message = {"type": "http.response.body", "body": body, "more_body": True}
                        await self._send(message)
                finally:
                    self._sending = False
                self._hold_until = self._loop.time() + self._window
                self._room.set()
        except Exception as exc:
            self.error = exc
            self._room.set()
            if self._owner is not None:
                self._owner.cancel()


async def _call_in_own_task(
    self: sse.EventStreamResponse, scope: Any, receive: Any, send: Any
) -> None:
    with sse.in_flight():
        await asyncio.get_running_loop().create_task(self._stream(receive, send))


_HEADS: dict[str, bytes] = {}


def encode_event(event: str, data: bytes | None = None) -> bytes:
    head = _HEADS.get(event)
    if head is None:
        head = _HEADS[event] = b"event: " + event.encode() + b"\r\n"
    if data is None:
        return head + b"\r\n"
    if b"\n" in data or b"\r" in data:
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        return head + b"".join(b"data: " + line + b"\r\n" for line in lines) + b"\r\n"
    return b"%bdata: %b\r\n\r\n" % (head, data)


async def frames_fast(
    source: AsyncGenerator[Any, None],
    first: Any,
    encode: Callable[[Any], bytes | None],
    run_id: str,
    aggregator: Any,
    *,
    serializer: Any,
    failure: Callable[[BaseException, Any], Any],
) -> AsyncIterator[bytes]:
    """`streaming.frames` with `async for` and no aggregator checks per chunk."""
    if aggregator is not None:
        async for frame in _ORIGINAL_FRAMES(
            source, first, encode, run_id, aggregator, serializer=serializer, failure=failure
        ):
            yield frame
        return
    code = streaming.encode_event  # as patched by `encode_event`, when it is
    yield code(streaming.METADATA, orjson.dumps({"run_id": run_id}))
    try:
        if first is not streaming.DONE:
            payload = encode(first)
            if payload is not None:
                yield code(streaming.DATA, payload)
            async for item in source:
                payload = encode(item)
                if payload is not None:
                    yield code(streaming.DATA, payload)
    except Exception as exc:
        failed = failure(exc, run_id)
        error = {"status_code": failed.status_code, "message": failed.message, "run_id": run_id}
        yield code(streaming.ERROR, orjson.dumps(error))
        return
    finally:
        await source.aclose()
    yield code(streaming.END)


_ORIGINAL_FRAMES = streaming.frames
_ORIGINAL_EVENT_SOURCE = streaming.event_source


def _event_source_dumps(runnable: Any, kind: str, *args: Any, **kwargs: Any) -> Any:
    source, encode = _ORIGINAL_EVENT_SOURCE(runnable, kind, *args, **kwargs)  # type: ignore[arg-type]
    if kind == "stream" and type(kwargs["serializer"]) is WellKnownLCSerializer:
        options = orjson.OPT_NON_STR_KEYS
        encode = functools.partial(orjson.dumps, default=default_encoder, option=options)
    return source, encode


_ORIGINALS = (
    sse.FrameWriter,
    sse.EventStreamResponse.__call__,
    streaming.encode_event,
    handler.frames,
    handler.event_source,
    dict(sse.EventStreamResponse.__init__.__kwdefaults__ or {}),
)


def restore() -> None:
    """Undo `apply`: langserve_like as it is."""
    writer, call, encode, frames, source, defaults = _ORIGINALS
    sse.FrameWriter = writer  # type: ignore[misc]
    sse.EventStreamResponse.__call__ = call  # type: ignore[method-assign]
    streaming.encode_event = encode
    handler.frames = frames
    handler.event_source = source
    sse.EventStreamResponse.__init__.__kwdefaults__ = dict(defaults)


def apply(names: list[str]) -> None:
    """Monkeypatch langserve_like with the named variants (see the module docstring)."""
    restore()
    for name in names:
        if name == "inline_writer":
            sse.FrameWriter = InlineFrameWriter  # type: ignore[misc]
        elif name == "own_task":
            sse.EventStreamResponse.__call__ = _call_in_own_task  # type: ignore[method-assign]
        elif name == "encode_event":
            streaming.encode_event = encode_event
        elif name == "frames_loop":
            handler.frames = frames_fast  # type: ignore[assignment]
        elif name == "dumps":
            handler.event_source = _event_source_dumps  # type: ignore[assignment]
        elif name == NO_COALESCING:
            init = sse.EventStreamResponse.__init__
            init.__kwdefaults__ = {**(init.__kwdefaults__ or {}), "coalesce_window": 0.0}
        elif name:
            raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
