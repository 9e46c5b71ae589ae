"""`FrameWriter`: SSE frames that come quickly share a write; nothing is lost or late.

The last tests watch the wire of a real uvicorn server: with chunked transfer
encoding, every write of the response body is one HTTP chunk, so a client can see
which frames shared a write. The app they serve is defined here.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import anyio
import h11
import httpx
import pytest
from fastapi import FastAPI
from langchain_core.runnables import RunnableGenerator
from starlette.requests import Request

from langserve_like import add_routes
from langserve_like.server.sse import EventStreamResponse, FrameWriter, encode_event
from tests.servers import run_uvicorn

pytestmark = pytest.mark.anyio


class Recorder:
    """An ASGI `send` that records body messages and can be made to block."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.ended = False
        self.open = asyncio.Event()
        self.open.set()
        self.sent = asyncio.Event()

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        await self.open.wait()
        self.bodies.append(message["body"])
        self.ended = not message.get("more_body", False)
        self.sent.set()


async def test_frame_writer_coalesces_frames_written_within_the_window() -> None:
    send = Recorder()
    writer = FrameWriter(send, window=10.0, ping_interval=0)
    frames = [f"event: data\r\ndata: {i}\r\n\r\n".encode() for i in range(50)]
    for frame in frames:
        await writer.put(frame)
        await asyncio.sleep(0)  # the producer yields, as a real source does
    with anyio.fail_after(5):
        await writer.close()
    assert b"".join(send.bodies) == b"".join(frames)
    assert len(send.bodies) == 2  # the first frame at once, the rest when it closed
    assert send.ended


async def test_frame_writer_sends_the_first_frame_without_waiting() -> None:
    send = Recorder()
    writer = FrameWriter(send, window=10.0, ping_interval=0)
    with anyio.fail_after(1):  # far less than the 10 s window
        await writer.put(b"event: metadata\r\ndata: {}\r\n\r\n")
        await send.sent.wait()
    assert send.bodies == [b"event: metadata\r\ndata: {}\r\n\r\n"]
    writer.abort()


async def test_frame_writer_sends_held_frames_when_the_window_ends() -> None:
    send = Recorder()
    writer = FrameWriter(send, window=0.05, ping_interval=0)
    await writer.put(b"a")
    await writer.put(b"b")  # held: written right after "a"; nothing comes after it
    with anyio.fail_after(5):
        while b"".join(send.bodies) != b"ab":
            send.sent.clear()
            await send.sent.wait()
    assert send.bodies == [b"a", b"b"]
    assert not send.ended
    writer.abort()


async def test_frame_writer_holds_the_producer_back_while_the_client_is_slow() -> None:
    send = Recorder()
    writer = FrameWriter(send, window=10.0, ping_interval=0, high_water=100)
    await writer.put(b"x" * 60)  # written at once; the next ones wait for the window
    send.open.clear()  # the client reads nothing for now
    await writer.put(b"y" * 60)  # held, 60 bytes waiting: room left
    putting = asyncio.ensure_future(writer.put(b"z" * 60))  # 120 bytes waiting
    for _ in range(20):  # let every ready task run; none of them can free room
        await asyncio.sleep(0)
    assert not putting.done()  # over the high-water mark: the producer waits
    send.open.set()
    with anyio.fail_after(5):
        await putting
        await writer.close()
    assert b"".join(send.bodies) == b"x" * 60 + b"y" * 60 + b"z" * 60


async def test_frame_writer_closes_with_the_last_frame_after_the_held_ones() -> None:
    send = Recorder()
    writer = FrameWriter(send, window=10.0, ping_interval=0)
    await writer.put(b"a")
    await writer.put(b"b")  # held for the window
    with anyio.fail_after(5):
        await writer.close(b"last")
    assert send.bodies == [b"a", b"blast"]
    assert send.ended


async def test_event_stream_stops_and_closes_its_source_when_a_write_fails() -> None:
    produced: list[int] = []
    closed = asyncio.Event()

    async def frames() -> AsyncIterator[bytes]:
        try:
            for i in range(100):
                produced.append(i)
                yield encode_event("data", b"%d" % i)
        finally:
            closed.set()

    bodies: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if len(bodies) == 2:
                raise ConnectionResetError("the client is gone")
            bodies.append(message["body"])

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the server has not noticed the disconnect
        return {"type": "http.disconnect"}

    response = EventStreamResponse(frames(), coalesce_window=0, ping_interval=0)
    with anyio.fail_after(5):
        await response({"type": "http"}, receive, send)  # ends without an error
    assert closed.is_set()
    assert bodies == [encode_event("data", b"0"), encode_event("data", b"1")]
    assert len(produced) == 3  # nothing produced after the failed write


# --- over a real uvicorn server ------------------------------------------------------

_released: asyncio.Queue[None] = asyncio.Queue()


async def _gated(inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
    """Yields one chunk, then waits until the client asks for the next one."""
    async for _ in inputs:
        pass
    for i in range(3):
        yield f"chunk {i}"
        await _released.get()


async def _release() -> None:
    _released.put_nowait(None)


async def _burst(request: Request) -> EventStreamResponse:
    async def frames() -> AsyncIterator[bytes]:
        for i in range(50):
            yield encode_event("data", b"%d" % i)
        yield encode_event("end")

    return EventStreamResponse(frames(), coalesce_window=60.0)


app = FastAPI()
add_routes(app, RunnableGenerator(_gated), path="/gated")
app.add_api_route("/release", _release, methods=["POST"])
app.add_route("/burst", _burst, methods=["POST"])


class ChunkedReader:
    """POSTs over a plain socket and reads the response body one HTTP chunk (one
    server write) at a time."""

    def __init__(self, base_url: str, path: str, body: bytes) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
        self.http = h11.Connection(h11.CLIENT)
        headers = [("host", parts.netloc), ("content-type", "application/json")]
        headers.append(("content-length", str(len(body))))
        request = h11.Request(method="POST", target=path, headers=headers)
        for event in (request, h11.Data(data=body), h11.EndOfMessage()):
            self.sock.sendall(self.http.send(event) or b"")
        self.ended = False

    def chunks(self) -> Iterator[bytes]:
        """Each HTTP chunk of the body, as soon as it has been read in full."""
        chunk = b""
        while not self.ended:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                self.http.receive_data(self.sock.recv(65536))
            elif isinstance(event, h11.Response):
                assert event.status_code == 200
            elif isinstance(event, h11.Data):
                chunk += event.data
                if event.chunk_end:
                    yield chunk
                    chunk = b""
            elif isinstance(event, h11.EndOfMessage):
                self.ended = True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with run_uvicorn("tests.test_frame_writer:app") as url:
        yield url


@pytest.mark.live
def test_event_stream_sends_each_frame_of_a_slow_stream_before_the_next_exists(
    served: str,
) -> None:
    reader = ChunkedReader(served, "/gated/stream", b'{"input": 1}')
    try:
        chunks = reader.chunks()
        assert next(chunks).startswith(b"event: metadata\r\n")
        for i in range(3):
            # The generator waits for this client before it yields chunk i + 1, so
            # chunk i must arrive on its own, without a later frame pushing it out.
            assert next(chunks) == encode_event("data", b'"chunk %d"' % i)
            httpx.post(f"{served}/release", timeout=10).raise_for_status()
        assert b"".join(chunks) == encode_event("end")
    finally:
        reader.close()


@pytest.mark.live
def test_event_stream_shares_writes_among_the_frames_of_a_fast_stream(served: str) -> None:
    reader = ChunkedReader(served, "/burst", b"{}")
    try:
        chunks = list(reader.chunks())
    finally:
        reader.close()
    frames = [encode_event("data", b"%d" % i) for i in range(50)] + [encode_event("end")]
    assert b"".join(chunks) == b"".join(frames)
    # The first frame is written at once; the 50 others come within the 60 s
    # window and share the write that ends the body.
    assert chunks == [frames[0], b"".join(frames[1:])]
