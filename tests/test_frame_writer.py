"""`FrameWriter`: SSE frames that come quickly share a write; nothing is lost or late."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from langserve_like.server.sse import FrameWriter

pytestmark = pytest.mark.anyio


class Recorder:
    """An ASGI `send` that records body messages and can be made to block."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.ended = False
        self.open = asyncio.Event()
        self.open.set()
        self.sent = asyncio.Event()

    async def __call__(self, message: dict[str, Any]) -> None:
        await self.open.wait()
        self.bodies.append(message["body"])
        self.ended = not message.get("more_body", False)
        self.sent.set()


async def test_frame_writer_coalesces_frames_written_within_the_window() -> None:
    send = Recorder()
    writer = FrameWriter(send, window=10.0, ping_interval=0)
    frames = [f"event: data\r\ndata: {i}\r\n\r\n".encode() for i in range(50)]
    for frame in frames:
        writer.write(frame)
        await asyncio.sleep(0)  # the producer yields, as a real source does
    with anyio.fail_after(5):
        await writer.close()
    assert b"".join(send.bodies) == b"".join(frames)
    assert len(send.bodies) == 2  # the first frame at once, the rest when it closed
    assert send.ended


async def test_frame_writer_sends_the_first_frame_without_waiting() -> None:
    send = Recorder()
    writer = FrameWriter(send, window=10.0, ping_interval=0)
    writer.write(b"event: metadata\r\ndata: {}\r\n\r\n")
    with anyio.fail_after(1):  # far less than the 10 s window
        await send.sent.wait()
    assert send.bodies == [b"event: metadata\r\ndata: {}\r\n\r\n"]
    writer.abort()


async def test_frame_writer_sends_held_frames_when_the_window_ends() -> None:
    send = Recorder()
    writer = FrameWriter(send, window=0.05, ping_interval=0)
    writer.write(b"a")
    writer.write(b"b")  # held: written right after "a"
    with anyio.fail_after(5):
        while b"".join(send.bodies) != b"ab":
            send.sent.clear()
            await send.sent.wait()
    assert not send.ended
    writer.abort()


async def test_frame_writer_holds_the_producer_back_while_the_client_is_slow() -> None:
    send = Recorder()
    send.open.clear()  # the client reads nothing for now
    writer = FrameWriter(send, window=0, ping_interval=0, high_water=100)
    for _ in range(3):
        writer.write(b"x" * 60)
        await asyncio.sleep(0)
    waiting = asyncio.ensure_future(writer.wait_for_room())
    for _ in range(20):  # let every ready task run; none of them can free room
        await asyncio.sleep(0)
    assert not waiting.done()  # over the high-water mark: the producer waits
    send.open.set()
    with anyio.fail_after(5):
        await waiting
        await writer.close()
    assert b"".join(send.bodies) == b"x" * 180
