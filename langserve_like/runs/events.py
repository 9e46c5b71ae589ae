"""Per-run event logs: monotonic ids, live fan-out, replay after `Last-Event-ID`.

The worker holding a run's lease is the only writer of its events. Each event
gets the next integer id of the run (an attempt after a crash continues from the
largest id on disk), goes at once to this process's live subscribers (one
bounded queue each) and is appended to `lsl_run_events` in small batches, a
few milliseconds later. A subscriber registers first, then reads the file and
the not-yet-written tail, and drops ids it already delivered: nothing emitted
between its arrival and its read can be missed or repeated. Subscribers of a run
that executes in another process find its events by reading the file when their
queue stays quiet, or, with Redis, as soon as their writer publishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Coroutine
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from langserve_like.runs.broker import Broker
from langserve_like.runs.db import Conn, Database, now_ms, sql
from langserve_like.runs.frames import SLOW, Event
from langserve_like.runs.relay import relay

__all__ = ["Event", "EventLog", "RunWriter"]

FLUSH_DELAY = 0.02
FLUSH_BATCH = 64
QUEUE_SIZE = 4096
CROSS_PROCESS_POLL = 0.05


@dataclass
class _Channel:
    subscribers: set[asyncio.Queue[Event]] = field(default_factory=set)
    writer: RunWriter | None = None


class RunWriter:
    """The event stream of one attempt of one run."""

    def __init__(self, log: EventLog, run_id: str, attempt: int, last_seq: int) -> None:
        self.log = log
        self.run_id = run_id
        self.attempt = attempt
        self.seq = last_seq
        self.tail: list[Event] = []
        self.scratch: dict[str, Any] = {}  # per-attempt state of the stream modes

    def emit(self, event: str, data: bytes) -> Event:
        self.seq += 1
        item = Event(self.seq, event, data)
        self.tail.append(item)
        # Redis gets it once it is in the database (`flush`): a client of another
        # process must never hold an event that a crash could leave unwritten.
        self.log.fan_out(self.run_id, item, publish=False)
        self.log.mark_dirty(self, urgent=len(self.tail) >= FLUSH_BATCH)
        return item

    async def take_tail(self) -> list[Event]:
        """Hand the unwritten events to the caller's transaction (the finish)."""
        async with self.log.flush_lock:
            self.log.forget(self)
            tail, self.tail = self.tail, []
            return tail

    def terminal(self, event: str, data: bytes) -> Event:
        """The next event, for the finishing transaction to write (not the tail)."""
        self.seq += 1
        return Event(self.seq, event, data)

    def close(self) -> None:
        self.log.forget(self)


class EventLog:
    def __init__(self, db: Database, poll_interval: float, broker: Broker | None = None) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self.broker = broker
        self._channels: dict[str, _Channel] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Group commit: the tails of every run with unwritten events go to the
        # file in one transaction per tick, not one per run, so concurrent runs
        # do not queue up behind each other's flushes on the one writer thread.
        self.flush_lock = asyncio.Lock()
        self._dirty: set[RunWriter] = set()
        self._timer: asyncio.TimerHandle | None = None

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def mark_dirty(self, writer: RunWriter, urgent: bool) -> None:
        """`writer` has events to write: within `FLUSH_DELAY`, or now if `urgent`."""
        self._dirty.add(writer)
        if urgent or self._timer is None:
            if self._timer is not None:
                self._timer.cancel()
            delay = 0 if urgent else FLUSH_DELAY
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(delay, lambda: self.spawn(self.flush()))

    def forget(self, writer: RunWriter) -> None:
        self._dirty.discard(writer)

    async def flush(self) -> None:
        """Append every pending tail to the file in one transaction; an attempt
        that lost its lease writes nothing."""
        async with self.flush_lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            batches = [(w, list(w.tail)) for w in self._dirty if w.tail]
            self._dirty.clear()
            if not batches:
                return
            now = now_ms()
            rows = [
                (w.run_id, e.seq, w.attempt, e.event, e.data, now, w.run_id, w.attempt)
                for w, batch in batches
                for e in batch
            ]

            def write(conn: Conn) -> None:
                conn.executemany(
                    "INSERT INTO lsl_run_events (run_id, seq, attempt, event, data, created_at)"
                    " SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM lsl_runs WHERE run_id = ?"
                    f" AND attempt = ? AND status = 'running'{sql(conn, 'share_lock')})"
                    " ON CONFLICT DO NOTHING",
                    rows,
                )

            await self.db.write(write, single=True)
            for writer, batch in batches:
                del writer.tail[: len(batch)]
                self.publish(writer.run_id, writer.attempt, batch)

    def publish(self, run_id: str, attempt: int, events: list[Event]) -> None:
        """Send written events to the other processes' listeners (with Redis)."""
        if self.broker is not None:
            for event in events:
                self.broker.publish(run_id, attempt, event)

    def live_count(self) -> tuple[int, int]:
        """(channels, subscribers) held in memory: a reconnect storm must leave none."""
        return len(self._channels), sum(len(c.subscribers) for c in self._channels.values())

    async def last_seq(self, run_id: str) -> int:
        """The id of the run's latest event, written or not."""
        channel = self._channels.get(run_id)
        if channel is not None and channel.writer is not None:
            return channel.writer.seq
        return await self.db.read(lambda conn: _max_seq(conn, run_id))

    async def open_writer(self, run_id: str, attempt: int) -> RunWriter:
        # Only attempts write events, so a first attempt starts from nothing.
        last = 0 if attempt == 1 else await self.db.read(lambda conn: _max_seq(conn, run_id))
        if attempt > 1 and self.broker is not None:
            # Clients may hold ids a dead attempt sent through Redis but never wrote:
            # the retry goes on above them, so none of its own events look old to them.
            last = max(last, await self.broker.last_seq(run_id))
        writer = RunWriter(self, run_id, attempt, last)
        channel = self._channels.setdefault(run_id, _Channel())
        channel.writer = writer
        return writer

    def close_writer(self, writer: RunWriter) -> None:
        writer.close()
        channel = self._channels.get(writer.run_id)
        if channel is not None and channel.writer is writer:
            channel.writer = None
            if not channel.subscribers:
                del self._channels[writer.run_id]

    def fan_out(self, run_id: str, item: Event, publish: bool = True) -> None:
        """`item` to this process's listeners; with `publish`, also to Redis (an
        event already in the database)."""
        channel = self._channels.get(run_id)
        if channel is None:
            return
        if publish and channel.writer is not None:
            self.publish(run_id, channel.writer.attempt, [item])
        for queue in list(channel.subscribers):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                channel.subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(SLOW)

    async def subscribe(self, run_id: str, after: int) -> AsyncGenerator[Event, None]:
        """Events of `run_id` with ids above `after`, in order, up to `end`."""
        if self.broker is not None and self.broker.healthy:
            local = self._channels.get(run_id)
            if local is None or local.writer is None:  # it executes elsewhere, or later
                async with aclosing(relay(self, self.broker, run_id, after)) as events:
                    async for event in events:
                        yield event
                return
        channel = self._channels.setdefault(run_id, _Channel())
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        channel.subscribers.add(queue)
        snapshot = list(channel.writer.tail) if channel.writer else []
        try:
            last = after
            backlog = {e.seq: e for e in await self.read_after(run_id, after)}
            backlog.update({e.seq: e for e in snapshot if e.seq > after})
            for seq in sorted(backlog):
                yield backlog[seq]
                last = seq
                if backlog[seq].event == "end":
                    return
            async with aclosing(self._follow(run_id, queue, last)) as items:
                async for item in items:
                    yield item
        finally:
            channel.subscribers.discard(queue)
            if not channel.subscribers and channel.writer is None:
                self._channels.pop(run_id, None)

    async def _follow(
        self, run_id: str, queue: asyncio.Queue[Event], last: int
    ) -> AsyncGenerator[Event, None]:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), self._quiet_timeout(run_id))
                items = [item]
            except asyncio.TimeoutError:
                # Nothing arrived here: the run may be executing in another
                # process, whose events only reach us through the file.
                items = await self.read_after(run_id, last)
                if not items and await self.gone(run_id):
                    return
            for item in items:
                if item is SLOW:
                    yield item
                    return
                if item.seq <= last:
                    continue
                last = item.seq
                yield item
                if item.event == "end":
                    return

    def _quiet_timeout(self, run_id: str) -> float:
        channel = self._channels.get(run_id)
        return self.poll_interval if channel and channel.writer else CROSS_PROCESS_POLL

    async def follow_db(self, run_id: str, after: int) -> AsyncGenerator[Event, None]:
        """Events above `after` as the database receives them (Redis is away)."""
        queue: asyncio.Queue[Event] = asyncio.Queue(1)  # never fed: reads the file every poll
        last = after
        for event in await self.read_after(run_id, after):
            yield event
            last = event.seq
            if event.event == "end":
                return
        async with aclosing(self._follow(run_id, queue, last)) as items:
            async for item in items:
                yield item

    async def attempt_progress(self, run_id: str, attempt: int) -> tuple[int, bool]:
        """(largest id written by `attempt`, whether it is still running)."""

        def read(conn: Conn) -> tuple[int, bool]:
            written = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM lsl_run_events WHERE run_id = ? AND attempt = ?",
                (run_id, attempt),
            ).fetchone()[0]
            running = conn.execute(
                "SELECT 1 FROM lsl_runs WHERE run_id = ? AND attempt = ? AND status = 'running'",
                (run_id, attempt),
            ).fetchone()
            return int(written), running is not None

        return await self.db.read(read)

    async def gone(self, run_id: str) -> bool:
        def status(conn: Conn) -> bool:
            row = conn.execute("SELECT 1 FROM lsl_runs WHERE run_id = ?", (run_id,)).fetchone()
            return row is None

        return await self.db.read(status)

    async def read_after(self, run_id: str, after: int) -> list[Event]:
        def read(conn: Conn) -> list[Event]:
            rows = conn.execute(
                "SELECT seq, event, data FROM lsl_run_events WHERE run_id = ? AND seq > ?"
                " ORDER BY seq",
                (run_id, after),
            ).fetchall()
            return [Event(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

        return await self.db.read(read)


def _max_seq(conn: Conn, run_id: str) -> int:
    row = conn.execute(
        "SELECT coalesce(max(seq), 0) FROM lsl_run_events WHERE run_id = ?", (run_id,)
    ).fetchone()
    return int(row[0])
