"""The engine of one app: the database, the worker, the event logs, the graphs.

It lives in `app.state.langserve_like` and is started and stopped by the app's
lifespan (see `attach`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from typing import Any

from langserve_like.runs import queue
from langserve_like.runs.db import Database, loads
from langserve_like.runs.events import EventLog, RunWriter
from langserve_like.runs.graph import Assistant, Registry, dumps, interrupts_by_task, to_jsonable
from langserve_like.runs.options import Runs
from langserve_like.runs.worker import EXECUTING, Worker

__all__ = ["Engine"]

logger = logging.getLogger("langserve_like.runs")

WEBHOOK_ATTEMPTS = 3


class _Waiter:
    """Requests waiting for one run to end; `row` is its terminal row when the
    worker that finished it hands it over (no need to read it back)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.row: Any = None


class LeaseLost(Exception):
    """This attempt at a run no longer holds its lease: it may write nothing."""


def _settled_saver(base: type[Any]) -> type[Any]:
    """LangGraph's SQLite checkpointer, whose writes run to their commit even when
    the run that made them is cancelled. A write cancelled between its INSERT and
    its COMMIT would leave its transaction open on the shared connection, holding
    the file's write lock: every other writer (the finish of that very run) would
    then wait out its busy timeout and fail."""

    class SettledSaver(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.in_flight: set[asyncio.Future[Any]] = set()

        async def aput(self, *args: Any, **kwargs: Any) -> Any:
            return await self._shielded(self._fenced_put(*args, **kwargs))

        async def _fenced_put(self, *args: Any, **kwargs: Any) -> Any:
            await self._fence()
            return await super().aput(*args, **kwargs)

        async def _fence(self) -> None:
            """A worker resumed after a pause longer than its lease (SIGSTOP, a long
            GC) must not write its late checkpoint: it would become the thread's
            latest, a fork of the state the run's next attempt built. Checkpoints
            written outside a run's execution (update_state) are not fenced."""
            held = EXECUTING.get()
            if held is None:
                return
            run_id, attempt = held
            sql = "SELECT 1 FROM lsl_runs WHERE run_id = ? AND attempt = ? AND status = 'running'"
            async with self.lock, self.conn.execute(sql, (run_id, attempt)) as cursor:
                if await cursor.fetchone() is None:
                    raise LeaseLost(f"Run {run_id} attempt {attempt} lost its lease")

        async def aput_writes(self, *args: Any, **kwargs: Any) -> None:
            await self._shielded(super().aput_writes(*args, **kwargs))

        async def _shielded(self, coro: Any) -> Any:
            task = asyncio.ensure_future(coro)
            self.in_flight.add(task)
            task.add_done_callback(self._done)
            return await asyncio.shield(task)

        def _done(self, task: asyncio.Future[Any]) -> None:
            self.in_flight.discard(task)
            if not task.cancelled():
                # Taken here: the run awaiting it may have been cancelled, and a
                # refused late write is expected, not a stray error.
                error = task.exception()
                if isinstance(error, LeaseLost):
                    logger.warning("late_checkpoint_refused: %s", error)

        async def settled(self) -> None:
            """Wait for writes whose run was cancelled (before reading or undoing them)."""
            if self.in_flight:
                await asyncio.wait(set(self.in_flight))

    return SettledSaver


async def _setup(target: Any, attempts: int = 20) -> None:
    """LangGraph's migrations of the checkpointer or the store, retried: processes
    that start together on a new file race to apply the same migration, and the
    loser fails on its version row (or its table); the retry finds it applied."""
    for attempt in range(attempts):
        try:
            await target.setup()
            return
        except sqlite3.Error:
            if attempt == attempts - 1:
                raise
            logger.debug("Migrations raced with another process; retrying", exc_info=True)
            await asyncio.sleep(0.05 * (attempt + 1))


class Engine:
    def __init__(self, options: Runs) -> None:
        self.options = options
        self.registry = Registry()
        self.started = False
        self._waiters: weakref.WeakValueDictionary[str, _Waiter] = weakref.WeakValueDictionary()
        self._background: set[asyncio.Task[None]] = set()
        self._conns: list[Any] = []

    async def start(self) -> None:
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
        from langgraph.store.sqlite.aio import AsyncSqliteStore

        self.options = self.options.with_environment()
        path = self.options.database_path()
        self.db = Database(path, self.options.synchronous)
        self.events = EventLog(self.db, self.options.poll_interval)
        saver_conn = await aiosqlite.connect(path)
        store_conn = await aiosqlite.connect(path, isolation_level=None)
        self._conns = [saver_conn, store_conn]
        for conn in self._conns:
            await conn.execute("PRAGMA busy_timeout=5000")
            # Durable at the same level as the runs (NORMAL: no fsync per commit in WAL).
            await conn.execute(f"PRAGMA synchronous={self.options.synchronous}")
        self.saver = _settled_saver(AsyncSqliteSaver)(saver_conn)
        await _setup(self.saver)
        self.store = AsyncSqliteStore(store_conn)
        await _setup(self.store)
        for assistant in self.registry.all():
            assistant.bind(self.saver, self.store)
        self.worker = Worker(self)
        await self.worker.start()
        self.started = True

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        await self.worker.stop()
        if self._background:
            await asyncio.wait(self._background, timeout=5)
        for conn in self._conns:
            await conn.close()
        self.db.close()

    # Runs ---------------------------------------------------------------

    async def create_run(self, new: queue.NewRun) -> tuple[Any, bool]:
        """Commit the run, then wake the worker: a 2xx answer means it is on disk."""
        lease = self.worker.reserve_slot()
        try:
            row, created = await self.db.write(lambda c: queue.insert_run(c, new, lease))
        finally:
            if lease is not None:
                self.worker.free_slot()
        if created:
            for run_id in new.cancelled:
                self.worker.stop_run(run_id, new.multitask_strategy)
            if new.claimed is not None:
                self.worker.adopt(new.claimed)
            else:
                self.worker.wake()
            if new.after_ms:
                asyncio.get_running_loop().call_later(new.after_ms / 1000, self.worker.wake)
        return row, created

    async def get_run(self, run_id: str, thread_id: str | None = None) -> Any:
        def read(conn: sqlite3.Connection) -> Any:
            row = conn.execute("SELECT * FROM lsl_runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None or (thread_id is not None and row["thread_id"] != thread_id):
                return None
            return row

        return await self.db.read(read)

    async def cancel(self, run_id: str, action: str) -> str | None:
        status = await self.db.write(lambda c: queue.cancel(c, run_id, action))
        if status == "running":
            self.worker.stop_run(run_id, action)  # else its heartbeat finds the request
        elif status is not None:
            self.notify_done(run_id)
        return status

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
        another process is noticed by re-reading its row every poll interval.
        """
        while True:
            waiter = self._waiters.get(run_id)
            if waiter is None:
                waiter = _Waiter()
                self._waiters[run_id] = waiter
            row = await self.get_run(run_id)
            if row is None or row["status"] not in queue.IN_FLIGHT:
                return row
            try:
                await asyncio.wait_for(waiter.event.wait(), self.options.poll_interval)
            except asyncio.TimeoutError:
                pass
            if waiter.row is not None:
                return waiter.row

    async def rollback(
        self, run_id: str, attempt: int, thread_id: str | None, writer: RunWriter
    ) -> None:
        """A cancel with `rollback`: the run and every checkpoint it wrote go."""

        def step(conn: sqlite3.Connection) -> bool:
            owned = conn.execute(
                "DELETE FROM lsl_runs WHERE run_id = ? AND attempt = ? AND status = 'running'",
                (run_id, attempt),
            ).rowcount
            if owned and thread_id is not None:
                mine = "json_extract(CAST(metadata AS TEXT), '$.run_id') = ?"
                conn.execute(
                    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_id IN (SELECT"
                    f" checkpoint_id FROM checkpoints WHERE thread_id = ? AND {mine})",
                    (thread_id, thread_id, run_id),
                )
                conn.execute(
                    f"DELETE FROM checkpoints WHERE thread_id = ? AND {mine}", (thread_id, run_id)
                )
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
        def read(conn: sqlite3.Connection) -> str | None:
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
