"""Server-Sent Events on the wire, byte-compatible with LangServe's responses.

A frame is `event: <name>\\r\\ndata: <json>\\r\\n\\r\\n` (`end` has no data line),
with CRLF separators as sse-starlette writes them, and an `id: <id>` line after the
event line when the event record (see `streaming`) has an id: `encode_record` is
the one encoder. `EventStreamResponse` is a small
ASGI response rather than sse-starlette's `EventSourceResponse` because the
streaming endpoints need four things in one place: frames that are already bytes
(no per-event object and string formatting, which dominated LangServe's per-token
cost), frames that come within a few milliseconds of each other sharing one socket
write (`FrameWriter`), closing the runnable's generator as soon as the client
disconnects, and an end of body that is always sent, so a stream is never cut off
mid-chunk.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from langserve_like.server import disconnect
from langserve_like.server.lifecycle import in_flight
from langserve_like.wire import CALLBACK, DATA, END, ERROR, METADATA

__all__ = [
    "DEFAULT_COALESCE_WINDOW",
    "DEFAULT_PING_INTERVAL",
    "EventStreamResponse",
    "EventRecord",
    "FrameWriter",
    "encode_event",
    "encode_record",
]

logger = logging.getLogger("langserve_like")

DEFAULT_PING_INTERVAL = 15.0
#: Frames produced within this many seconds of the last write share one write.
DEFAULT_COALESCE_WINDOW = 0.01
#: How long a stream cancelled by the server may take to send its last frame.
FINAL_FRAME_TIMEOUT = 1.0

_HEADERS = {
    "cache-control": "no-cache",
    "connection": "keep-alive",
    # Stops nginx and similar proxies from buffering the stream.
    "x-accel-buffering": "no",
}


#: One event: its name, its JSON payload (None: no data line) and its id (None: no
#: `id:` line). A plain tuple: a stream builds one per chunk, and a tuple is the
#: cheapest object Python builds.
EventRecord = tuple[str, "bytes | None", "str | None"]

# The head of each event this package sends, encoded once rather than per event, and
# the same followed by `data: `: most frames are one of these, one payload line, no id.
_HEADS = {
    name: b"event: " + name.encode() + b"\r\n" for name in (METADATA, DATA, ERROR, END, CALLBACK)
}
_DATA_PREFIXES = {name: head + b"data: " for name, head in _HEADS.items()}


def encode_record(record: EventRecord) -> bytes:
    """One SSE frame. `data` is JSON; a multi-line payload gets one `data:` line each.

    The id is the server's own (a run id or a sequence number), never client text,
    so it needs no escaping.
    """
    event, data, event_id = record
    if data is not None and event_id is None and b"\n" not in data and b"\r" not in data:
        prefix = _DATA_PREFIXES.get(event)
        if prefix is not None:
            # The per-chunk case, in one join: ~400 instructions less than building
            # the head and concatenating twice.
            return b"".join((prefix, data, b"\r\n\r\n"))
    head = _HEADS.get(event)
    if head is None:
        head = b"event: " + event.encode() + b"\r\n"
    if event_id is not None:
        head += b"id: " + event_id.encode() + b"\r\n"
    if data is None:
        return head + b"\r\n"
    if b"\n" in data or b"\r" in data:
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        return head + b"".join(b"data: " + line + b"\r\n" for line in lines) + b"\r\n"
    return head + b"data: " + data + b"\r\n\r\n"


_DATA_PREFIX = _DATA_PREFIXES[DATA]


def encode_data(data: bytes) -> bytes:
    """`encode_record((DATA, data, None))`: the frame of every chunk, without the
    record tuple and its unpacking (~700 instructions less per chunk)."""
    if b"\n" in data or b"\r" in data:
        return encode_record((DATA, data, None))
    return b"".join((_DATA_PREFIX, data, b"\r\n\r\n"))


def encode_event(event: str, data: bytes | None = None, event_id: str | None = None) -> bytes:
    """`encode_record` of `(event, data, event_id)`."""
    return encode_record((event, data, event_id))


class FrameWriter:
    """Writes SSE frames, sharing a write among those that come quickly.

    A frame is written as soon as it is produced unless the last write was less than
    `window` seconds ago; then it waits, with any that follow, until the window is
    over. A token stream from a model (one frame every few tens of milliseconds) is
    written frame by frame, while a fast one costs one socket write per window
    instead of one per event (each write is ~40,000 instructions through uvicorn
    and h11). The producer writes a frame that is due at once itself, in `put`:
    handing every frame to the sender task cost ~17,000 instructions per frame (a
    wake-up, a future and a task step). The sender task writes only what waited:
    frames held for the window, pings, and the end of the body. The producer is held
    back once `high_water` bytes are waiting, so a slow client cannot make the
    buffer grow without bound.
    """

    __slots__ = (
        "_closing",
        "_frames",
        "_high_water",
        "_hold_until",
        "_loop",
        "_owner",
        "_ping",
        "_ping_interval",
        "_room",
        "_send",
        "_sender",
        "_sending",
        "_size",
        "_timer",
        "_wake",
        "_window",
        "error",
    )

    def __init__(
        self,
        send: Send,
        *,
        window: float = DEFAULT_COALESCE_WINDOW,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        high_water: int = 65536,
    ) -> None:
        self._send = send
        self._window = window
        self._ping_interval = ping_interval
        self._high_water = high_water
        self._loop = asyncio.get_running_loop()
        self._owner = asyncio.current_task()
        self._frames: list[bytes] = []
        self._size = 0
        self._hold_until = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        # True while a write is on its way, from `put` or from the sender task: the
        # other one must not write meanwhile, and frames that come wait for it.
        self._sending = False
        self._closing = False
        self.error: Exception | None = None
        self._ping: asyncio.TimerHandle | None = None
        if ping_interval > 0:
            self._ping = self._loop.call_later(ping_interval, self._add_ping)
        self._sender = self._loop.create_task(self._run())

    def claim(self) -> bool:
        """True if a frame may be written now by the caller itself: its window is
        over and nothing waits or is being written. The caller then sends it and
        calls `release`, whether the send worked or not (and sets `error` if not).

        `EventStreamResponse` writes a due frame so rather than through `put`, one
        coroutine less per frame (~1,000 instructions).
        """
        if self._sending or self._timer is not None or self._wake.is_set():
            return False
        now = self._loop.time()
        if now < self._hold_until:
            return False
        self._hold_until = now + self._window
        self._sending = True
        return True

    def release(self) -> None:
        """The write `claim` allowed is over."""
        self._sending = False
        if self._frames:  # a ping came while the frame was being written
            self._due_after_write()

    async def put(self, frame: bytes) -> None:
        """Write `frame` now if it is due and nothing waits, else queue it.

        Raises what the server's `send` raised (`error` is then set); returns only
        once fewer than `high_water` bytes wait to be written.
        """
        if self.claim():
            try:
                await self._send({"type": "http.response.body", "body": frame, "more_body": True})
            except Exception as exc:
                self.error = exc
                raise
            finally:
                self.release()
            return
        self._frames.append(frame)
        self._size += len(frame)
        if self._size >= self._high_water:
            self._due()
            while self._size >= self._high_water and self.error is None:
                self._room.clear()
                await self._room.wait()
        elif not (self._sending or self._timer is not None or self._wake.is_set()):
            # Held for the window: the timer writes it, with any that follow.
            delay = self._hold_until - self._loop.time()
            self._timer = self._loop.call_later(delay, self._due)

    async def close(self, last: bytes | None = None) -> None:
        """Write what is left and `last`, end the body and wait until it is sent."""
        if last is not None:
            self._frames.append(last)
        self._closing = True
        self._due()
        await self._sender

    def abort(self) -> None:
        """Stop now (the client left or the producer failed); nothing more is sent."""
        for handle in (self._timer, self._ping):
            if handle is not None:
                handle.cancel()
        if not self._sender.done():
            self._sender.cancel()

    def _due(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._sending:  # else the write under way calls `_due_after_write`
            self._wake.set()

    def _due_after_write(self) -> None:
        """What came during a write goes when its window is over (or now, if the
        buffer is full or the body is closing)."""
        delay = self._hold_until - self._loop.time()
        if delay <= 0 or self._closing or self._size >= self._high_water:
            self._wake.set()
        else:
            self._timer = self._loop.call_later(delay, self._due)

    def _add_ping(self) -> None:
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(sep=" ")
        self._frames.append(f": ping - {stamp}\r\n\r\n".encode())
        self._due()
        self._ping = self._loop.call_later(self._ping_interval, self._add_ping)

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                body = b"".join(self._frames)
                self._frames.clear()
                self._size = 0
                self._hold_until = self._loop.time() + self._window
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
                if self._frames or self._closing:
                    self._due_after_write()
                self._room.set()
        except Exception as exc:
            # Usually OSError: the server could not write, the client is gone. Either
            # way the producer must stop too; `EventStreamResponse` re-raises the rest.
            self.error = exc
            self._room.set()
            if self._owner is not None:
                self._owner.cancel()


class EventStreamResponse(Response):
    """Streams already-encoded SSE frames; stops the source when the client leaves."""

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        coalesce_window: float = DEFAULT_COALESCE_WINDOW,
        cancelled_frame: bytes | None = None,
    ) -> None:
        self.frames = frames
        self.ping_interval = ping_interval
        self.coalesce_window = coalesce_window
        self.cancelled_frame = cancelled_frame
        self.status_code = 200
        self.background = None
        self._request_task: asyncio.Task[Any] | None = None
        self.init_headers({**_HEADERS, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with in_flight():
            # A task of its own: each chunk suspends (langchain-core awaits a task per
            # chunk), and a suspension and its resumption go through every coroutine
            # between the task and the generator; in the request's task that is the
            # whole ASGI stack (the route, its endpoint, this call), ~4,000
            # instructions per chunk. The request's task waits for it once, and a
            # cancellation of the request (the server shutting down) is passed on to it.
            self._request_task = asyncio.current_task()
            await asyncio.get_running_loop().create_task(self._stream(receive, send))

    async def _stream(self, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        writer = FrameWriter(send, window=self.coalesce_window, ping_interval=self.ping_interval)
        sweeper = disconnect.sweeper()
        ticket = sweeper.watch(receive)
        try:
            async for frame in self.frames:
                if writer.claim():  # due: written from here, as `put` would
                    try:
                        await send({"type": "http.response.body", "body": frame, "more_body": True})
                    except Exception as exc:
                        writer.error = exc
                        raise
                    finally:
                        writer.release()
                else:
                    await writer.put(frame)
            await writer.close()
        except asyncio.CancelledError:
            if sweeper.disconnected(ticket):
                pass  # the client left; `unwatch` forgets our own cancellation
            elif writer.error is not None:
                task = asyncio.current_task()
                if task is not None and hasattr(task, "uncancel"):
                    task.uncancel()  # the writer's own cancellation (Python >= 3.11)
                if not isinstance(writer.error, OSError):
                    raise writer.error from None
            elif not await self._end_cancelled(writer):
                raise
        except OSError as exc:
            if exc is not writer.error:
                raise
            # `put` could not write: the client is gone, as above.
        finally:
            sweeper.unwatch(ticket)
            writer.abort()
            with anyio.CancelScope(shield=True):
                aclose = getattr(self.frames, "aclose", None)
                if aclose is not None:
                    await aclose()

    async def _end_cancelled(self, writer: FrameWriter) -> bool:
        """Cancelled by the server, not the client (uvicorn's --timeout-graceful-shutdown
        ran out, say): send `cancelled_frame` and a proper end of body, so the client
        sees why the stream ended instead of a cut connection. True if that worked,
        and then the cancellation counts as handled: the response is complete."""
        if self.cancelled_frame is None:
            return False
        # Python >= 3.11: let the awaits below run, and tell the request's task, whose
        # cancellation this was, that it was handled (`uncancel` does nothing at 0).
        for task in (asyncio.current_task(), self._request_task):
            if task is not None and hasattr(task, "uncancel"):
                task.uncancel()
        try:
            await asyncio.wait_for(writer.close(self.cancelled_frame), FINAL_FRAME_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.CancelledError, OSError):
            return False
        return writer.error is None
