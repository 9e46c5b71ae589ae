"""The responses of a run's stream (SSE) and of `runs.wait`: keep-alive, disconnect detection.

A Starlette `StreamingResponse` notices a client that left only when it next
writes, which for a quiet run can be minutes; `on_disconnect=cancel` needs to
know at once, and a rejoining client's abandoned subscription must be released
at once (a reconnect storm would otherwise pile them up). So this response also
listens on `receive()` for `http.disconnect` while it waits for events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["EventStream", "WaitResponse"]

PING = b": ping\r\n\r\n"


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        on_disconnect: Callable[[], Awaitable[Any]] | None = None,
        ping_every: float = 10.0,
    ) -> None:
        super().__init__(
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **(headers or {})},
            media_type=self.media_type,
        )
        # Response sized its empty body; a stream has no length.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.frames = frames
        self.on_disconnect = on_disconnect
        self.ping_every = ping_every

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        left: asyncio.Future[Any] = asyncio.ensure_future(_disconnected(receive))
        pending: asyncio.Future[Any] | None = None
        gone = False
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(self.frames.__anext__())
                done, _ = await asyncio.wait(
                    {pending, left}, timeout=self.ping_every, return_when=asyncio.FIRST_COMPLETED
                )
                if left in done:
                    gone = True
                    break
                if pending not in done:
                    await send({"type": "http.response.body", "body": PING, "more_body": True})
                    continue
                try:
                    frame = pending.result()
                except StopAsyncIteration:
                    pending = None
                    break
                pending = None
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            if not gone:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            gone = True
        finally:
            left.cancel()
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                    await pending
            aclose = getattr(self.frames, "aclose", None)
            if aclose is not None:
                await aclose()
            if gone and self.on_disconnect is not None:
                await self.on_disconnect()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class WaitResponse(Response):
    """The body of `runs.wait`: one JSON document, sent whole with its length
    when it is ready within `keepalive_every` (most runs); otherwise the
    headers go out then, and a newline each `keepalive_every` (JSON allows
    leading whitespace) keeps proxies from timing out until it is; with
    `keepalive_every=None` it waits for the document, whose status it sends. A
    client that leaves is noticed at once (`on_disconnect`), as on a stream."""

    media_type = "application/json"

    def __init__(
        self,
        result: Awaitable[tuple[int, bytes]],
        *,
        headers: Mapping[str, str] | None = None,
        on_disconnect: Callable[[], Awaitable[Any]] | None = None,
        keepalive_every: float | None = 5.0,
    ) -> None:
        super().__init__(headers=headers, media_type=self.media_type)
        self.result = result
        self.on_disconnect = on_disconnect
        self.keepalive_every = keepalive_every

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        left: asyncio.Future[Any] = asyncio.ensure_future(_disconnected(receive))
        result = asyncio.ensure_future(self.result)
        started, gone = False, False
        try:
            while True:
                done, _ = await asyncio.wait(
                    {result, left},
                    timeout=self.keepalive_every,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if result in done:
                    self.status_code, body = result.result()
                    await self._send_body(send, body, started)
                    break
                if left in done:
                    gone = True
                    break
                if not started:
                    await self._send_start(send, None)
                    started = True
                await send({"type": "http.response.body", "body": b"\n", "more_body": True})
        except OSError:
            gone = True
        finally:
            left.cancel()
            result.cancel()
            if gone and self.on_disconnect is not None:
                await self.on_disconnect()

    async def _send_start(self, send: Send, length: int | None) -> None:
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})

    async def _send_body(self, send: Send, body: bytes, started: bool) -> None:
        if not started:
            await self._send_start(send, len(body))
        await send({"type": "http.response.body", "body": body, "more_body": False})
