"""Following a run that executes in another process, through Redis.

The listener registers (and is subscribed) first, then reads the backlog after
its last id, then reads after its stream position on each notification; ids at
or below the last delivered are dropped, so nothing published between its
arrival and its first read is missed or repeated. Redis is only a fast path to
what `lsl_run_events` holds: a hole in the stream's ids (a publish that failed,
a trimmed or expired stream) is filled from the database, a quiet second is
checked against the database, and when Redis breaks the listener carries on
reading the database from its last id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING

from langserve_like.runs.broker import Broker, BrokerError, Entry
from langserve_like.runs.frames import Event

if TYPE_CHECKING:
    from langserve_like.runs.events import EventLog

__all__ = ["relay"]

FILL_POLL = 0.05
FILL_PATIENCE = 10.0


class _Relay:
    def __init__(self, log: EventLog, broker: Broker, run_id: str, after: int) -> None:
        self.log = log
        self.broker = broker
        self.run_id = run_id
        self.last = after
        self.done = False

    async def events(self) -> AsyncGenerator[Event, None]:
        try:
            # Closed with this generator: it holds the run's subscription.
            async with aclosing(self._from_redis()) as events:
                async for event in events:
                    yield event
        except BrokerError:
            pass  # the database has every event Redis had
        if not self.done:
            async with aclosing(self.log.follow_db(self.run_id, self.last)) as events:
                async for event in events:
                    yield event

    async def _from_redis(self) -> AsyncGenerator[Event, None]:
        broker, run_id = self.broker, self.run_id
        async with broker.listen(run_id) as listener:
            cursor, entries = await broker.backlog(run_id, self.last)
            if not entries:
                # An expired stream, or events emitted while Redis was away.
                entries = [(b"", e) for e in await self.log.read_after(run_id, self.last)]
            while True:
                for event in await self._complete(entries):
                    yield event
                if self.done:
                    return
                woke = await _wait(listener.wake, self.log.poll_interval)
                listener.wake.clear()
                if not broker.healthy:
                    return
                cursor, entries = await broker.read(run_id, cursor)
                if entries or woke:
                    continue
                # Quiet: a publish may have failed; the database would have it.
                fresh = await self.log.read_after(run_id, self.last)
                if not fresh and await self.log.gone(run_id):
                    return
                entries = [(b"", e) for e in fresh]

    def _take(self, event: Event) -> bool:
        if event.seq <= self.last:
            return False
        self.last = event.seq
        self.done = event.event == "end"
        return True

    async def _complete(self, entries: list[Entry]) -> list[Event]:
        """The new events among `entries`, in order, holes filled, up to `end`."""
        out: list[Event] = []
        for entry_id, event in entries:
            if event.seq > self.last + 1:
                attempt = int(entry_id.split(b"-")[0]) if entry_id else 0
                out += [e for e in await self._missing(attempt, event.seq) if self._take(e)]
            if not self.done and self._take(event):
                out.append(event)
            if self.done:
                break
        return out

    async def _missing(self, attempt: int, before: int) -> list[Event]:
        """The events between the last delivered and `before`, from the database,
        once it holds everything `attempt` emitted below `before` (its writer
        flushes in order, a few milliseconds behind Redis). Ids it still lacks then
        were an earlier attempt's, lost with it: no reader of the database has them."""
        deadline = time.monotonic() + FILL_PATIENCE
        while time.monotonic() < deadline:
            written, running = await self.log.attempt_progress(self.run_id, attempt)
            if written >= before - 1 or not running:
                break
            await asyncio.sleep(FILL_POLL)  # polls the writer's flush, with a deadline
        return [e for e in await self.log.read_after(self.run_id, self.last) if e.seq < before]


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


def relay(log: EventLog, broker: Broker, run_id: str, after: int) -> AsyncGenerator[Event, None]:
    """Events of `run_id` with ids above `after`, in order, up to `end`."""
    return _Relay(log, broker, run_id, after).events()
