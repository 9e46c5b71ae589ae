"""The disconnect sweeper on its own: which work gets a watcher, and what a
disconnect does to it. (tests/test_disconnects.py covers the same over a real
socket, through the endpoints.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from langserve_like.server import disconnect
from langserve_like.server.state import ServerState

pytestmark = pytest.mark.anyio

DEADLINE = 5.0  # seconds any awaited step may take before the test fails


@pytest.fixture(autouse=True)
def quick_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disconnect, "WATCH_AFTER", 0.01)
    monkeypatch.setattr(disconnect, "RECANCEL_EVERY", 0.01)


class Client:
    """An ASGI `receive` whose client leaves when told to."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()  # the watcher is waiting in receive()
        self.leave = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        self.asked.set()
        await self.leave.wait()
        return {"type": "http.disconnect"}


async def test_disconnect_watch_work_over_before_the_sweep_starts_no_watcher() -> None:
    sweeper = disconnect.sweeper(ServerState())
    quick, slow = Client(), Client()
    ticket = sweeper.watch(quick.receive)
    sweeper.unwatch(ticket)
    # A watch made later is started after any earlier one still there would be.
    later = sweeper.watch(slow.receive)
    await asyncio.wait_for(slow.asked.wait(), DEADLINE)
    assert not quick.asked.is_set()
    sweeper.unwatch(later)


async def test_disconnect_watch_cancels_work_whose_client_left() -> None:
    sweeper = disconnect.sweeper(ServerState())
    client = Client()
    outcome: list[str] = []

    async def work() -> None:
        ticket = sweeper.watch(client.receive)
        try:
            await asyncio.Event().wait()  # a run that would never end
        except asyncio.CancelledError:
            outcome.append("left" if sweeper.disconnected(ticket) else "cancelled")
        finally:
            sweeper.unwatch(ticket)
        task = asyncio.current_task()
        assert task is not None
        outcome.append(f"cancelling={task.cancelling()}")

    running = asyncio.create_task(work())
    await asyncio.wait_for(client.asked.wait(), DEADLINE)
    client.leave.set()
    await asyncio.wait_for(running, DEADLINE)
    # The sweeper's own cancellations are taken back: nothing up the stack sees one.
    assert outcome == ["left", "cancelling=0"]


async def test_disconnect_watch_cancels_again_until_the_work_stops() -> None:
    sweeper = disconnect.sweeper(ServerState())
    client = Client()
    give_up = asyncio.Event()  # set by the test if the cancellations stop coming
    caught = 0

    async def stubborn() -> None:
        nonlocal caught
        ticket = sweeper.watch(client.receive)
        try:
            while caught < 3 and not give_up.is_set():
                try:  # catches the first cancellations and goes on waiting
                    await give_up.wait()
                except asyncio.CancelledError:
                    caught += 1
        finally:
            sweeper.unwatch(ticket)

    running = asyncio.create_task(stubborn())
    await asyncio.wait_for(client.asked.wait(), DEADLINE)
    client.leave.set()
    done, _ = await asyncio.wait({running}, timeout=DEADLINE)
    give_up.set()
    await running
    assert done
    assert caught == 3


async def test_disconnect_watch_other_cancellations_are_not_a_disconnect() -> None:
    sweeper = disconnect.sweeper(ServerState())
    client = Client()
    seen: list[bool] = []

    async def work() -> None:
        ticket = sweeper.watch(client.receive)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append(sweeper.disconnected(ticket))
            raise
        finally:
            sweeper.unwatch(ticket)

    running = asyncio.create_task(work())
    await asyncio.wait_for(client.asked.wait(), DEADLINE)  # watched, client still there
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert seen == [False]


async def test_disconnect_watch_sweeper_is_per_app_and_loop() -> None:
    app = ServerState()
    first = disconnect.sweeper(app)
    assert disconnect.sweeper(app) is first
    assert disconnect.sweeper(ServerState()) is not first
    assert first.loop is asyncio.get_running_loop()
