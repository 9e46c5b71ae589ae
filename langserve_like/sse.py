"""Server-Sent Events on the wire, byte-compatible with LangServe's responses.

A frame is `event: <name>\\r\\ndata: <json>\\r\\n\\r\\n` (`end` has no data line),
with CRLF separators as sse-starlette writes them. `EventStreamResponse` is a small
ASGI response rather than sse-starlette's `EventSourceResponse` because the
streaming endpoints need three things in one place: frames that are already bytes
(no per-event object and string formatting, which dominated LangServe's per-token
cost), closing the runnable's generator as soon as the client disconnects, and an
end of body that is always sent, so a stream is never cut off mid-chunk.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import AsyncIterator, Mapping

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["DEFAULT_PING_INTERVAL", "EventStreamResponse", "encode_event"]

logger = logging.getLogger("langserve_like")

DEFAULT_PING_INTERVAL = 15.0

_HEADERS = {
    "cache-control": "no-cache",
    "connection": "keep-alive",
    # Stops nginx and similar proxies from buffering the stream.
    "x-accel-buffering": "no",
}


def encode_event(event: str, data: bytes | None = None) -> bytes:
    """One SSE frame. `data` is JSON; a multi-line payload gets one `data:` line each."""
    head = b"event: " + event.encode() + b"\r\n"
    if data is None:
        return head + b"\r\n"
    if b"\n" in data or b"\r" in data:
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        return head + b"".join(b"data: " + line + b"\r\n" for line in lines) + b"\r\n"
    return head + b"data: " + data + b"\r\n\r\n"


class EventStreamResponse(Response):
    """Streams already-encoded SSE frames; stops the source when the client leaves."""

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        ping_interval: float = DEFAULT_PING_INTERVAL,
    ) -> None:
        self.frames = frames
        self.ping_interval = ping_interval
        self.status_code = 200
        self.background = None
        self.init_headers({**_HEADERS, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        disconnected = False

        async def watch_disconnect(scope_to_cancel: anyio.CancelScope) -> None:
            nonlocal disconnected
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected = True
                    scope_to_cancel.cancel()
                    return

        async def ping() -> None:
            while True:
                await anyio.sleep(self.ping_interval)
                stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(sep=" ")
                await send(
                    {
                        "type": "http.response.body",
                        "body": f": ping - {stamp}\r\n\r\n".encode(),
                        "more_body": True,
                    }
                )

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(watch_disconnect, group.cancel_scope)
                if self.ping_interval > 0:
                    group.start_soon(ping)
                async for frame in self.frames:
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
                group.cancel_scope.cancel()
        except OSError:
            disconnected = True  # the server could not write: the client is gone
        finally:
            with anyio.CancelScope(shield=True):
                aclose = getattr(self.frames, "aclose", None)
                if aclose is not None:
                    await aclose()
        if not disconnected:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
