"""Executes runs: the claim loop, the heartbeat thread, the reaper.

The heartbeat renews the leases of this process's runs from a thread of its own
with its own connection, so a node that blocks the event loop (a synchronous
`time.sleep` in async code) does not make a healthy run look dead. A watchdog
tick on the loop stops the renewals if the loop has been stuck longer than
`loop_stall_limit`, so a truly hung worker does lose its runs to a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from langserve_like.runs import queue
from langserve_like.runs.db import Conn, Dedicated, loads
from langserve_like.runs.events import RunWriter
from langserve_like.runs.execute import Outcome, execute
from langserve_like.runs.graph import dumps

if TYPE_CHECKING:
    from langserve_like.runs.engine import Engine
    from langserve_like.runs.graph import Assistant

__all__ = ["Worker"]

logger = logging.getLogger("langserve_like.runs")

# How often an idle worker with a free slot looks for runs other processes
# enqueued: a cheap read (a partial index), so an API-only process's runs start
# within this, not within the poll interval.
CLAIM_PROBE = 0.05
# How many stops of runs not (yet) started here are remembered (`Worker._early_stops`).
EARLY_STOPS = 1024

# Test-only: a file every claim, fenced finish and release of this process is
# appended to, for the failure tests to check the queue's guarantees on.
AUDIT_ENV = "LSL_AUDIT"


@dataclass
class Active:
    run_id: str
    attempt: int
    thread_id: str | None
    renewed_at: float
    # Until this monotonic time the lease is surely still this attempt's: it was
    # set or renewed by a statement sent after `lease_until - lease_ttl / 3`, so
    # it expires no sooner than two thirds of a lease later (room for clock
    # drift). A pause past it (SIGSTOP) leaves the time behind: no shortcut then.
    lease_until: float = 0.0
    task: asyncio.Task[None] | None = None
    stop_reason: str | None = None  # interrupt | rollback | lost | shutdown
    # Its graph is executing: only then does a stop cancel the task. Until then
    # a stop is recorded and honoured before the graph starts: a task cancelled
    # before its first step never runs its body, so it would neither end the run
    # nor leave `active`, and the heartbeat would renew its lease forever.
    executing: bool = False
    # Its outcome is being written: a stop now (the heartbeat finding the lease
    # gone because this very finish committed) would skip the wake-ups and the
    # webhook after the commit; a finish that lost its lease is fenced anyway.
    finishing: bool = False


# The attempt in the task executing it and the tasks it starts (LangGraph's
# background checkpoint writes): the checkpointer fences its writes on it.
EXECUTING: contextvars.ContextVar[Active | None] = contextvars.ContextVar(
    "lsl_executing", default=None
)


class Worker:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.options = engine.options
        self.owner = queue.owner_id()
        self.active: dict[str, Active] = {}
        self.loop_tick = time.monotonic()
        self._wake = asyncio.Event()
        # Whether runs may be waiting for a free slot: the last claim took all it
        # could. A run that ends wakes the claim loop only then (or when its own
        # thread has a queued run), rather than paying an empty claim per run.
        self._backlog = True
        self._reserved = 0  # slots held by creates that may claim their own run
        # Stops for runs this process does not execute (yet): a cancel committed
        # right after a claim here may arrive before the claimed row is started.
        # Bounded; the stop of a run executed elsewhere just ages out.
        self._early_stops: dict[str, str] = {}
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeat: _Heartbeat | None = None
        # Other processes' enqueues reach this one by a probe only on SQLite; on
        # PostgreSQL their NOTIFY wakes the claim loop (see Engine._on_wake).
        self._probe = engine.db.dialect == "sqlite"

        self._audit_path = os.environ.get(AUDIT_ENV) or None

    def wake(self) -> None:
        self._wake.set()

    def reserve_slot(self) -> tuple[str, int] | None:
        """A free slot for a run being created, as the lease to claim it with."""
        if self._stopping or self.options.workers - len(self.active) - self._reserved <= 0:
            return None
        self._reserved += 1
        return self.owner, int(self.options.lease_ttl * 1000)

    def free_slot(self) -> None:
        self._reserved -= 1

    def adopt(self, row: Any, sent: float) -> None:
        """Execute a run its create (sent at monotonic `sent`) claimed for this process."""
        self._start(row, sent)

    async def start(self) -> None:
        await self._reap()  # runs of a process that died before this one started
        self._tasks = [asyncio.create_task(self._reaper()), asyncio.create_task(self._ticker())]
        if self.options.workers > 0:
            self._tasks.append(asyncio.create_task(self._claim_loop()))
            self._heartbeat = _Heartbeat(self, asyncio.get_running_loop())
            self._heartbeat.start()

    async def stop(self) -> None:
        """Stop claiming, let runs finish for `shutdown_grace`, hand the rest back."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        running = [a.task for a in self.active.values() if a.task is not None]
        if running:
            await asyncio.wait(running, timeout=self.options.shutdown_grace)
        for active in list(self.active.values()):
            self.stop_run(active.run_id, "shutdown")
        remaining = [a.task for a in self.active.values() if a.task is not None]
        if remaining:
            await asyncio.wait(remaining)
        if self._heartbeat is not None:
            self._heartbeat.stop()
            await asyncio.to_thread(self._heartbeat.join)

    def stop_run(self, run_id: str, reason: str) -> bool:
        """Cancel this process's attempt at `run_id`; False if it is not ours."""
        active = self.active.get(run_id)
        if active is None or active.task is None:
            self._early_stops[run_id] = reason
            if len(self._early_stops) > EARLY_STOPS:
                del self._early_stops[next(iter(self._early_stops))]
            return False
        if active.stop_reason is None and not active.finishing:
            active.stop_reason = reason
            if active.executing:
                active.task.cancel()
        return True

    async def _ticker(self) -> None:
        while True:
            self.loop_tick = time.monotonic()
            await asyncio.sleep(1.0)

    async def _reaper(self) -> None:
        while True:
            await asyncio.sleep(self.options.reaper_interval)
            await self._reap()

    async def _reap(self) -> None:
        retention = int(self.options.stream_retention * 1000)
        try:
            rows = await self.engine.db.write(
                lambda c: queue.reap(c, stream_retention_ms=retention)
            )
        except self.engine.db.errors:
            logger.exception("The reaper could not reach the runs database")
            return
        for row in rows:
            if row["status"] != "pending":
                self.engine.notify_done(row["run_id"])
        if rows:
            self.wake()

    async def _claim_loop(self) -> None:
        ttl_ms = int(self.options.lease_ttl * 1000)
        while not self._stopping:
            self._wake.clear()
            free = self.options.workers - len(self.active) - self._reserved
            self._backlog = True
            if free > 0:
                sent = time.monotonic()
                try:
                    rows = await self.engine.db.write(partial(self._claim, ttl_ms, free))
                except self.engine.db.errors:
                    logger.exception("Could not claim runs")
                    rows = []
                else:
                    self._backlog = len(rows) == free
                for row in rows:
                    self._start(row, sent)
            await self._idle()

    async def _idle(self) -> None:
        """Until woken, or until a run is claimable that another process enqueued
        (its wake-up cannot reach this one): while a slot is free, a read-only probe
        every CLAIM_PROBE, so the write transaction of a claim is paid only when a
        run is there. The poll interval stays the safety net for a lost wake-up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.poll_interval
        while True:
            left = deadline - loop.time()
            free = self.options.workers - len(self.active) - self._reserved > 0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(left, CLAIM_PROBE) if free else left)
                return
            if loop.time() >= deadline:
                return
            if free and self._probe:
                with contextlib.suppress(*self.engine.db.errors):
                    if await self.engine.db.read(queue.claimable):
                        return

    def _claim(self, ttl_ms: int, free: int, conn: Conn) -> list[Any]:
        return queue.claim(conn, self.owner, ttl_ms, free)

    def _start(self, row: Any, sent: float) -> None:
        active = Active(row["run_id"], row["attempt"], row["thread_id"], time.monotonic())
        active.lease_until = sent + self.options.lease_ttl / 3
        # A stop that came first, or the durable cancel of a run handed back
        # unfinished: honoured before the graph starts (see Active.executing).
        active.stop_reason = self._early_stops.pop(active.run_id, None) or row["cancel_action"]
        self.active[active.run_id] = active
        self._audit("claim", active, active.renewed_at)
        active.task = asyncio.create_task(self._run(active, row))

    def _audit(self, kind: str, active: Active, at: float) -> None:
        """One `kind run_id attempt pid monotonic thread_id` line (see AUDIT_ENV).

        `at` of a finish or release is taken before its transaction, that of a
        claim after: a finish that committed before a claim is logged before it."""
        if self._audit_path is not None:
            fields = (kind, active.run_id, active.attempt, os.getpid(), f"{at:.6f}")
            with open(self._audit_path, "a") as log:
                log.write(" ".join(map(str, fields)) + f" {active.thread_id or '-'}\n")

    async def _run(self, active: Active, row: Any) -> None:
        engine = self.engine
        EXECUTING.set(active)  # this task's own context
        writer = await engine.events.open_writer(active.run_id, active.attempt)
        try:
            payload = {"run_id": active.run_id, "attempt": active.attempt}
            writer.emit("metadata", dumps(payload))
            outcome = await self._outcome(active, row, writer)
            if outcome is not None:
                await self._finish(active, writer, outcome)
        except Exception:
            logger.exception("Run %s could not be finished", active.run_id)
        finally:
            engine.events.close_writer(writer)
            self.active.pop(active.run_id, None)
            if self._backlog:
                self.wake()

    async def _outcome(self, active: Active, row: Any, writer: RunWriter) -> Outcome | None:
        assistant = self.engine.registry.get(row["graph_id"])
        if assistant is None:
            error = {"error": "UnknownAssistant", "message": f"No assistant {row['graph_id']!r}"}
            writer.emit("error", dumps(error))
            return Outcome("error", error=error, thread={"status": "error", "error": error})
        if active.stop_reason is None:  # else stopped before it started (see Active)
            active.executing = True
            try:
                return await execute(
                    assistant,
                    row,
                    loads(row["kwargs"]),
                    writer,
                    durability=self.options.durability,
                    expose_errors=self.options.expose_error_messages,
                )
            except asyncio.CancelledError:
                pass
        return await self._stopped(active, row, assistant, writer)

    async def _stopped(
        self, active: Active, row: Any, assistant: Assistant, writer: RunWriter
    ) -> Outcome | None:
        """The outcome of an attempt `stop_run` stopped: None if there is nothing
        to write (handed back, lost, rolled back), else the run as interrupted."""
        reason = active.stop_reason
        await self.engine.saver.settled()  # the checkpoint writes it started
        if reason == "shutdown":
            at = time.monotonic()
            if await self.engine.db.write(
                lambda c: queue.release(c, active.run_id, active.attempt)
            ):
                self._audit("release", active, at)
            return None
        if reason == "lost" or reason is None:
            logger.warning("Run %s attempt %s lost its lease", active.run_id, active.attempt)
            return None
        if reason == "rollback":
            await self.engine.rollback(active.run_id, active.attempt, row["thread_id"], writer)
            return None
        thread: dict[str, Any] = {}
        if assistant.stateful and row["thread_id"] is not None:
            thread = await self.engine.thread_snapshot(assistant, row["thread_id"])
        return Outcome("interrupted", thread=thread)

    async def _finish(self, active: Active, writer: RunWriter, outcome: Outcome) -> None:
        engine = self.engine
        active.finishing = True
        # The last events, `end` and the terminal status: one transaction.
        tail = await writer.take_tail()
        end = writer.terminal("end", dumps({"run_id": active.run_id, "status": outcome.status}))

        def step(conn: Conn) -> tuple[Any, bool]:
            row, queued = queue.finish(
                conn,
                active.run_id,
                active.attempt,
                outcome.status,
                output=outcome.output,
                error=outcome.error,
                thread=outcome.thread,
            )
            if row is not None:
                queue.append_events(conn, active.run_id, active.attempt, [*tail, end])
            return row, queued

        at = time.monotonic()
        # Logged before the transaction too: a worker killed once the finish has
        # committed never writes the line after it.
        self._audit("finishing", active, at)
        row, queued = await engine.db.write(step)
        self._audit("finish_rejected" if row is None else "finish_ok", active, at)
        if row is None:
            logger.warning("lease_lost_on_finish run=%s attempt=%s", active.run_id, active.attempt)
            return
        engine.events.publish(active.run_id, active.attempt, tail)  # now in the database
        engine.events.fan_out(active.run_id, end)
        engine.notify_done(active.run_id, row, wake=queued)
        engine.after_finish(row)


class _Heartbeat(threading.Thread):
    def __init__(self, worker: Worker, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name="lsl-heartbeat", daemon=True)
        self.worker = worker
        self.loop = loop
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        options = self.worker.options
        conn = self.worker.engine.db.dedicated()
        try:
            while not self._stopped.wait(options.heartbeat):
                self._beat(conn)
        finally:
            conn.close()

    def _beat(self, conn: Dedicated) -> None:
        options = self.worker.options
        ttl_ms = int(options.lease_ttl * 1000)
        stalled = time.monotonic() - self.worker.loop_tick > options.loop_stall_limit
        for active in list(self.worker.active.values()):
            if not stalled:
                sent = time.monotonic()
                try:
                    alive, action = conn.run(
                        partial(
                            queue.heartbeat,
                            run_id=active.run_id,
                            attempt=active.attempt,
                            ttl_ms=ttl_ms,
                        )
                    )
                except self.worker.engine.db.errors:
                    alive, action = True, None  # unknown: the self-fence below decides
                else:
                    if not alive:
                        self._stop_run(active.run_id, "lost")
                        continue
                    active.renewed_at = time.monotonic()
                    active.lease_until = sent + options.lease_ttl / 3
                    if action:
                        self._stop_run(active.run_id, action)
            if time.monotonic() - active.renewed_at > options.self_fence_after:
                self._stop_run(active.run_id, "lost")

    def _stop_run(self, run_id: str, reason: str) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self.loop.call_soon_threadsafe(self.worker.stop_run, run_id, reason)
