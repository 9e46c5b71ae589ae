"""The engine of one app: the database, the worker, the event logs, the graphs.

It lives in `app.state.langserve_like` and is started and stopped by the app's
lifespan (see `attach`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import weakref
from functools import partial
from typing import Any

from langserve_like.runs import queue, saver_tables
from langserve_like.runs.broker import Broker
from langserve_like.runs.db import Conn, Database, loads, notify
from langserve_like.runs.events import EventLog, RunWriter
from langserve_like.runs.graph import Assistant, Registry, dumps, interrupts_by_task, to_jsonable
from langserve_like.runs.options import Runs
from langserve_like.runs.storage import Storage, open_storage
from langserve_like.runs.worker import Worker

__all__ = ["Engine"]

logger = logging.getLogger("langserve_like.runs")

WEBHOOK_ATTEMPTS = 3
# How often the rows of runs that other processes execute are read while a
# request here waits for them (their end wakes nobody in this process).
FOREIGN_POLL = 0.05


class _Waiter:
    """Requests waiting for one run to end; `row` is its terminal row when the
    worker that finished it hands it over (no need to read it back)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.row: Any = None


def _ended(run_ids: list[str], conn: Conn) -> list[Any]:
    marks = ",".join("?" * len(run_ids))
    return conn.execute(
        f"SELECT * FROM lsl_runs WHERE run_id IN ({marks})"
        " AND status NOT IN ('pending', 'running')",
        run_ids,
    ).fetchall()


class Engine:
    def __init__(self, options: Runs) -> None:
        self.options = options
        self.registry = Registry()
        self.started = False
        self._waiters: weakref.WeakValueDictionary[str, _Waiter] = weakref.WeakValueDictionary()
        self._background: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self.broker: Broker | None = None
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.options = self.options.with_environment()
        self.storage: Storage = await open_storage(self.options)
        self.db: Database = self.storage.db
        self.saver, self.store = self.storage.saver, self.storage.store
        self.broker = await self._start_broker()
        self.events = EventLog(self.db, self.options.poll_interval, self.broker)
        for assistant in self.registry.all():
            assistant.bind(self.saver, self.store)
        self.worker = Worker(self)
        await self.worker.start()
        if self.storage.postgres_url is not None:
            from langserve_like.runs.db_postgres import listen

            url = self.storage.postgres_url
            self._listener = asyncio.create_task(listen(url, self._on_wake))
        # What exists by now (modules, the app, the graphs, the pools) lives as
        # long as the process: the cyclic collector need not walk it again. Each
        # of its full collections took ~100 ms under the runs benchmark's load.
        gc.freeze()
        self.started = True

    def _on_wake(self, payload: str) -> None:
        """A wake-up from any replica (PostgreSQL): a run became claimable (""),
        ended (its id), or should stop (`queue.CANCEL`)."""
        if payload.startswith(queue.CANCEL):
            action, _, run_id = payload[len(queue.CANCEL) :].partition(":")
            self.worker.stop_run(run_id, action)
        elif payload:
            self.notify_done(payload, wake=False)  # a claimable run is announced apart
        else:
            self.worker.wake()

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self.worker.stop()
        if self.broker is not None:
            await self.broker.close()
        if self._poller is not None:
            self._poller.cancel()
        if self._background:
            await asyncio.wait(self._background, timeout=5)
        await self.storage.close()

    # Runs ---------------------------------------------------------------

    async def create_run(self, new: queue.NewRun) -> tuple[Any, bool]:
        """Commit the run, then wake the worker: a 2xx answer means it is on disk."""
        lease = self.worker.reserve_slot()
        sent = time.monotonic()
        try:
            row, created = await self.db.write(lambda c: queue.insert_run(c, new, lease))
        finally:
            if lease is not None:
                self.worker.free_slot()
        if created:
            for run_id in new.cancelled:
                await self._stop_anywhere(run_id, new.multitask_strategy)
            if new.claimed is not None:
                self.worker.adopt(new.claimed, sent)
            else:
                self.worker.wake()
            if new.after_ms:
                asyncio.get_running_loop().call_later(new.after_ms / 1000, self.worker.wake)
        return row, created

    async def get_run(self, run_id: str, thread_id: str | None = None) -> Any:
        def read(conn: Conn) -> Any:
            row = conn.execute("SELECT * FROM lsl_runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None or (thread_id is not None and row["thread_id"] != thread_id):
                return None
            return row

        return await self.db.read(read)

    async def cancel(self, run_id: str, action: str) -> str | None:
        status = await self.db.write(lambda c: queue.cancel(c, run_id, action))
        if status == "running":
            await self._stop_anywhere(run_id, action)
        elif status is not None:
            self.notify_done(run_id)
        return status

    async def _stop_anywhere(self, run_id: str, action: str) -> None:
        """Stop a running run now, if this process or (through Redis) another runs
        it; else its heartbeat finds the request in the database."""
        if not self.worker.stop_run(run_id, action) and self.broker is not None:
            await self.broker.control(run_id, action)

    async def _start_broker(self) -> Broker | None:
        url = self.options.redis_url()
        if url is None:
            return None

        def control(run_id: str, action: str) -> None:
            if self.started:  # a cancel for a run of ours: stop it now
                self.worker.stop_run(run_id, action)

        broker = Broker(url, self.options.stream_retention, control)
        await broker.start()
        return broker

    def notify_done(self, run_id: str, row: Any = None, wake: bool = True) -> None:
        """Wake the run's waiters; and the claim loop if the run's end may have
        made another run claimable (`wake`)."""
        waiter = self._waiters.pop(run_id, None)
        if waiter is not None:
            waiter.row = row
            waiter.event.set()
        if wake:
            self.worker.wake()

    async def wait_terminal(self, run_id: str) -> Any:
        """The run's row once it is no longer pending or running (None if deleted).

        Woken by this process's worker when the run ends; a run executed by
        another process is noticed by the foreign-run poller (`_poll_foreign`),
        every `FOREIGN_POLL` while someone waits, plus this loop's slow re-read.
        """
        first = True
        while True:
            waiter = self._waiters.get(run_id)
            if waiter is None:
                waiter = _Waiter()
                self._waiters[run_id] = waiter
            # A run this process executes wakes the waiter just registered when
            # it ends (its end and its leaving `active` happen in one step); a
            # wake-up without its row (a rollback, a cancel) is read after.
            if not (first and run_id in self.worker.active):
                row = await self.get_run(run_id)
                if row is None or row["status"] not in queue.IN_FLIGHT:
                    return row
            first = False
            # On PostgreSQL other replicas' finishes arrive by NOTIFY (`_on_wake`).
            if self.db.dialect == "sqlite" and (self._poller is None or self._poller.done()):
                self._poller = asyncio.create_task(self._poll_foreign())
            try:
                await asyncio.wait_for(waiter.event.wait(), self.options.poll_interval)
            except asyncio.TimeoutError:
                pass
            if waiter.row is not None:
                return waiter.row

    async def _poll_foreign(self) -> None:
        """While requests wait for runs this process does not execute, read their
        rows every `FOREIGN_POLL` (one query for all of them) and wake the ended."""
        while self._waiters:
            await asyncio.sleep(FOREIGN_POLL)
            ids = [r for r in list(self._waiters) if r not in self.worker.active]
            if not ids:
                continue
            try:
                rows = await self.db.read(partial(_ended, ids))
            except self.db.errors:
                continue  # the waits' own re-reads report a broken file
            for row in rows:
                self.notify_done(row["run_id"], row, wake=False)

    async def rollback(
        self, run_id: str, attempt: int, thread_id: str | None, writer: RunWriter
    ) -> None:
        """A cancel with `rollback`: the run and every checkpoint it wrote go."""

        def step(conn: Conn) -> bool:
            owned = conn.execute(
                "DELETE FROM lsl_runs WHERE run_id = ? AND attempt = ? AND status = 'running'",
                (run_id, attempt),
            ).rowcount
            if owned and thread_id is not None:
                saver_tables.delete_run(conn, thread_id, run_id)
            if owned:
                notify(conn, run_id)
                notify(conn)  # the thread's next run may start now
            return bool(owned)

        if not await self.db.write(step):
            return
        self.events.fan_out(run_id, writer.terminal("end", dumps({"run_id": run_id})))
        if thread_id is not None:
            assistant = self.registry.get(await self._graph_of(thread_id) or "")
            state = await self.thread_snapshot(assistant, thread_id) if assistant else {}
            await self.db.write(lambda c: queue.settle_thread(c, thread_id, state))
        self.notify_done(run_id)

    async def _graph_of(self, thread_id: str) -> str | None:
        def read(conn: Conn) -> str | None:
            row = conn.execute(
                "SELECT graph_id FROM lsl_threads WHERE thread_id = ?", (thread_id,)
            ).fetchone()
            return None if row is None else row[0]

        return await self.db.read(read)

    async def thread_snapshot(self, assistant: Assistant, thread_id: str) -> dict[str, Any]:
        if not assistant.stateful:
            return {}
        snapshot = await assistant.bound.aget_state({"configurable": {"thread_id": thread_id}})
        return {
            "values": to_jsonable(snapshot.values),
            "interrupts": interrupts_by_task(snapshot),
            "status": "interrupted" if snapshot.next else "idle",
        }

    # Webhooks -----------------------------------------------------------

    def after_finish(self, row: Any) -> None:
        webhook = (loads(row["kwargs"]) or {}).get("webhook")
        if webhook:
            task = asyncio.create_task(self._post_webhook(webhook, row))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _post_webhook(self, url: str, row: Any) -> None:
        import httpx

        from langserve_like.runs.shapes import run_to_api

        body = {**run_to_api(row), "values": loads(row["output"]), "error": loads(row["error"])}
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(WEBHOOK_ATTEMPTS):
                try:
                    response = await client.post(url, json=body)
                    if response.status_code < 500:
                        return
                except httpx.HTTPError:
                    pass
                # Backoff between retries of a receiver that is down.
                await asyncio.sleep(0.5 * 2**attempt)
        logger.warning("Webhook for run %s failed %d times", row["run_id"], WEBHOOK_ATTEMPTS)
