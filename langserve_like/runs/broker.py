"""Redis as the live fan-out of run events between processes, and their cancels.

The worker executing a run appends each event to the Redis stream
`lsl:run:{run_id}:ev` (entry id `{attempt}-{seq}`: a retry's entries sort after
the dead attempt's, and a zombie attempt can no longer append once its
successor has) and publishes a tiny notification on the channel of that name.
A process holds one pub/sub connection: it subscribes a run's channel while it
has listeners of that run, and the pattern `lsl:run:*:ctl` that carries cancels
to the process executing the run. A listener reads the entries with `XRANGE`
on the ordinary connection pool.

Redis holds nothing the database does not: a publish that fails is dropped
(listeners find those events in `lsl_run_events`), and while the pub/sub
connection is down `healthy` is False and streams read the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from langserve_like.runs.frames import Event

__all__ = ["Broker", "BrokerError", "Entry", "Listener"]

logger = logging.getLogger("langserve_like.runs")

EVENTS = "lsl:run:{}:ev"
CONTROL = "lsl:run:{}:ctl"
CONTROL_PATTERN = "lsl:run:*:ctl"
MAXLEN = 10_000
READ_COUNT = 1000
RECONNECT_EVERY = 1.0
CONFIRM_TIMEOUT = 1.0
READ_TIMEOUT = 5.0
POOL_SIZE = 32  # the pub/sub connection and up to 31 commands at once
EXPIRING = frozenset({"metadata", "end"})  # an attempt's first and a run's last event

# Appends a batch of events (groups of six arguments after the retention and the
# length cap: key index, entry id, event, data, whether to set the expiry, seq),
# then notifies each stream's channel once with its last seq. An append below the
# stream's last id is a stale attempt's, refused by Redis: skipped.
APPEND = """
local retention, maxlen, last = ARGV[1], ARGV[2], {}
for i = 3, #ARGV, 6 do
  local key = KEYS[tonumber(ARGV[i])]
  redis.pcall('XADD', key, 'MAXLEN', '~', maxlen, ARGV[i + 1], 'e', ARGV[i + 2], 'd', ARGV[i + 3])
  if ARGV[i + 4] == '1' then redis.call('EXPIRE', key, retention) end
  last[key] = ARGV[i + 5]
end
for key, seq in pairs(last) do redis.call('PUBLISH', key, seq) end
return 0
"""

BrokerError = (RedisError, OSError)
Entry = tuple[bytes, Event]  # (stream id, event)


class Listener:
    """One stream request waiting for a run's events; woken by a notification
    or when the pub/sub connection breaks."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()


class Broker:
    def __init__(
        self, url: str, retention: float, on_control: Callable[[str, str], object]
    ) -> None:
        # No retries inside the client: a failure must surface at once, so the
        # caller can fall back to the database instead of waiting on Redis.
        # A bounded pool that makes callers queue: a crowd of listeners woken by one
        # notification must not open a connection each.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=READ_TIMEOUT,
            socket_connect_timeout=2,
            socket_timeout=READ_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self.client: Redis = Redis.from_pool(pool)
        self.retention = max(1, int(retention))
        self.on_control = on_control
        self.healthy = False
        self._up = asyncio.Event()
        self._listeners: dict[str, set[Listener]] = {}
        self._subscribed: set[str] = set()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._pubsub: PubSub | None = None
        self._lock = asyncio.Lock()
        self._outbox: list[tuple[str, int, Event]] = []
        self._outbox_ready = asyncio.Event()
        self._idle = asyncio.Event()  # nothing queued nor being sent
        self._idle.set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._append = self.client.register_script(APPEND)
        self._closing = False

    async def start(self) -> None:
        self._spawn(self._reader())
        self._spawn(self._publisher())
        # Streams opened right after start should not fall back for want of a
        # connection that is a moment away; an unreachable Redis costs this once.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._up.wait(), CONFIRM_TIMEOUT)

    async def close(self) -> None:
        self._closing = True
        if self.healthy:  # the last events (a shutdown's) go out before the connections
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), CONFIRM_TIMEOUT)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        await self.client.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Health -------------------------------------------------------------

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self.client.ping(), CONFIRM_TIMEOUT))
        except (*BrokerError, asyncio.TimeoutError):
            return False

    def _set_health(self, healthy: bool) -> None:
        if healthy != self.healthy and not self._closing:
            log = logger.info if healthy else logger.warning
            log("Redis is %s", "reachable" if healthy else "unreachable: streams read the database")
        self.healthy = healthy
        if healthy:
            self._up.set()
            return
        self._up.clear()
        for confirmed in self._confirmed.values():
            confirmed.set()
        self._confirmed.clear()
        # Listeners waiting on a notification that will not come fall back now.
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.wake.set()

    # Publishing (the worker side) ----------------------------------------

    def publish(self, run_id: str, attempt: int, event: Event) -> None:
        """Queue `event` for Redis; sent with whatever else is queued, in order."""
        self._outbox.append((run_id, attempt, event))
        self._outbox_ready.set()
        self._idle.clear()

    async def control(self, run_id: str, action: str) -> bool:
        """Tell the process executing `run_id` to stop it; False if none heard it."""
        try:
            return bool(await self.client.publish(CONTROL.format(run_id), action))
        except BrokerError:
            return False

    async def _publisher(self) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            batch, self._outbox = self._outbox, []
            if self.healthy:
                try:
                    await self._send(batch)
                except BrokerError as exc:
                    # The events are in the database; listeners read them there.
                    logger.debug("Dropped %d events for Redis: %s", len(batch), exc)
            if not self._outbox:
                self._idle.set()

    async def _send(self, batch: list[tuple[str, int, Event]]) -> None:
        # One script call per batch rather than a pipeline of commands: redis-py
        # spends far more per command than Redis does, on the worker's loop.
        keys: dict[str, int] = {}
        args: list[Any] = [self.retention, MAXLEN]
        for run_id, attempt, event in batch:
            index = keys.setdefault(EVENTS.format(run_id), len(keys) + 1)
            expire = 1 if event.event in EXPIRING else 0
            args += [index, f"{attempt}-{event.seq}", event.event, event.data, expire, event.seq]
        await self._append(keys=list(keys), args=args)

    # Listening (the stream side) ------------------------------------------

    @contextlib.asynccontextmanager
    async def listen(self, run_id: str) -> AsyncIterator[Listener]:
        """Register a listener of `run_id`, subscribed before this returns; the
        subscription is released when the last listener of the run leaves, on
        every exit path."""
        channel = EVENTS.format(run_id)
        listener = Listener()
        self._listeners.setdefault(channel, set()).add(listener)
        try:
            await self._sync(channel)
            yield listener
        finally:
            listeners = self._listeners.get(channel)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[channel]
            # Off this exit path: it may be a cancellation, which must not skip it.
            self._spawn(self._sync(channel))

    def listener_count(self) -> int:
        return sum(len(s) for s in self._listeners.values())

    async def _sync(self, channel: str) -> None:
        """Make the subscription of `channel` match whether it has listeners."""
        confirmed: asyncio.Event | None = None
        async with self._lock:
            pubsub = self._pubsub
            wanted = channel in self._listeners
            if pubsub is None or wanted == (channel in self._subscribed):
                return
            try:
                if wanted:
                    confirmed = self._confirmed.setdefault(channel, asyncio.Event())
                    await pubsub.subscribe(channel)
                    self._subscribed.add(channel)
                else:
                    await pubsub.unsubscribe(channel)
                    self._subscribed.discard(channel)
            except BrokerError:
                return  # the reader notices the broken connection and resubscribes
        if confirmed is not None:
            # Reads made after Redis confirmed cannot miss a later notification.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(confirmed.wait(), CONFIRM_TIMEOUT)

    async def _reader(self) -> None:
        while True:
            pubsub = self.client.pubsub()
            try:
                async with self._lock:
                    await pubsub.psubscribe(CONTROL_PATTERN)
                    channels = list(self._listeners)
                    if channels:
                        await pubsub.subscribe(*channels)
                    self._pubsub, self._subscribed = pubsub, set(channels)
                while True:
                    message = await pubsub.get_message(timeout=READ_TIMEOUT)
                    if message is not None:
                        self._dispatch_safely(message)
            except BrokerError as exc:
                logger.debug("Redis pub/sub connection lost: %s", exc)
            finally:
                self._pubsub, self._subscribed = None, set()
                self._set_health(False)
                with contextlib.suppress(*BrokerError):
                    # Typed only from redis 8.2 on; `Any` keeps mypy quiet on every version.
                    closing: Any = pubsub.aclose
                    await closing()
            await asyncio.sleep(RECONNECT_EVERY)  # reconnection backoff

    def _dispatch_safely(self, message: dict[str, Any]) -> None:
        # The reader must outlive a bad message: every stream of the process hangs on it.
        try:
            self._dispatch(message)
        except Exception:
            logger.exception("Could not handle the Redis message %r", message.get("channel"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = message["channel"].decode()
        if kind == "message":
            for listener in self._listeners.get(channel, ()):
                listener.wake.set()
        elif kind == "pmessage":
            self.on_control(channel.split(":")[2], message["data"].decode())
        elif kind == "subscribe":
            confirmed = self._confirmed.pop(channel, None)
            if confirmed is not None:
                confirmed.set()
        elif kind == "psubscribe":
            self._set_health(True)

    # Reading ----------------------------------------------------------------

    async def backlog(self, run_id: str, after: int) -> tuple[bytes, list[Entry]]:
        """(cursor, entries) of the run's latest attempt with ids above `after`."""
        newest: Any = await self.client.xrevrange(EVENTS.format(run_id), count=1)
        if not newest:
            return b"0-0", []
        attempt: bytes = newest[0][0].split(b"-")[0]
        return await self.read(run_id, attempt + b"-%d" % after)

    async def last_seq(self, run_id: str) -> int:
        """The largest id the run's stream holds (0 if none, or Redis is away)."""
        try:
            newest: Any = await self.client.xrevrange(EVENTS.format(run_id), count=1)
        except BrokerError:
            return 0
        return int(newest[0][0].split(b"-")[1]) if newest else 0

    async def read(self, run_id: str, cursor: bytes) -> tuple[bytes, list[Entry]]:
        """(cursor, entries) after the stream position `cursor`."""
        key = EVENTS.format(run_id)
        found: list[Entry] = []
        while True:
            rows: Any = await self.client.xrange(key, min=b"(" + cursor, max="+", count=READ_COUNT)
            for entry_id, fields in rows:
                seq = int(entry_id.split(b"-")[1])
                found.append((entry_id, Event(seq, fields[b"e"].decode(), fields[b"d"])))
            if rows:
                cursor = rows[-1][0]
            if len(rows) < READ_COUNT:
                return cursor, found
