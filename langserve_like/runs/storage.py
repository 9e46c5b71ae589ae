"""Where an engine keeps everything: the runs database, LangGraph's checkpointer
and store, on one SQLite file or one PostgreSQL database (`Runs.database`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from langserve_like.runs.db import Conn, Database
from langserve_like.runs.options import Runs
from langserve_like.runs.worker import EXECUTING, Active

__all__ = ["LeaseLost", "Storage", "open_storage"]

logger = logging.getLogger("langserve_like.runs")

SAVER_POOL_SIZE = 6


@dataclass
class Storage:
    db: Database
    saver: Any  # a checkpointer with `settled()` (see `_settled_saver`)
    store: Any
    postgres_url: str | None = None  # set: replicas wake each other through it
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in self.closers:
            await close()
        self.db.close()


class LeaseLost(Exception):
    """This attempt at a run no longer holds its lease: it may write nothing."""


def _still_held(run_id: str, attempt: int, conn: Conn) -> bool:
    sql = "SELECT 1 FROM lsl_runs WHERE run_id = ? AND attempt = ? AND status = 'running'"
    return conn.execute(sql, (run_id, attempt)).fetchone() is not None


def _surely_held(active: Active, trust_lease: bool) -> bool:
    """Whether the attempt's lease is known to be valid without asking the database:
    within its fresh third (`Active.lease_until`) and not being stopped. Only where
    every stop reaches the executing process at once (PostgreSQL's NOTIFY carries
    cancels and a thread's deletion to every replica); SQLite's sibling processes
    learn of a deleted thread at their next heartbeat, so they always ask."""
    return trust_lease and active.stop_reason is None and time.monotonic() < active.lease_until


def _settled_saver(base: type[Any], db: Database, trust_lease: bool = False) -> type[Any]:
    """LangGraph's checkpointer, whose writes run to their commit even when the
    run that made them is cancelled, and are refused once the run's attempt lost
    its lease.

    A write cancelled between its INSERT and its COMMIT would leave its
    transaction open on the shared connection: on SQLite it holds the file's write
    lock, so every other writer (the finish of that very run) would wait out its
    busy timeout and fail; a rollback must also see every checkpoint the run wrote
    before it deletes them. A worker resumed after a pause longer than its lease
    (SIGSTOP, a long GC) must not write its late checkpoint: it would become the
    thread's latest, a fork of the state the run's next attempt built. The check
    is one primary-key read before each checkpoint of a run (checkpoints written
    outside a run's execution, by update_state, are not fenced), skipped while the
    lease is surely held (`_surely_held`)."""

    class SettledSaver(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.in_flight: set[asyncio.Future[Any]] = set()

        async def aput(self, *args: Any, **kwargs: Any) -> Any:
            return await self._shielded(self._fenced_put(*args, **kwargs))

        async def _fenced_put(self, *args: Any, **kwargs: Any) -> Any:
            held = EXECUTING.get()
            if held is not None and not _surely_held(held, trust_lease):
                check = partial(_still_held, held.run_id, held.attempt)
                if not await db.read(check):
                    raise LeaseLost(f"Run {held.run_id} attempt {held.attempt} lost its lease")
            return await super().aput(*args, **kwargs)

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


async def _setup(setup: Callable[[], Awaitable[None]], errors: tuple[type[Exception], ...]) -> None:
    """LangGraph's migrations of the checkpointer or the store, retried: processes
    that start together on a new file race to apply the same migration, and the
    loser fails on its version row (or its table); the retry finds it applied."""
    attempts = 20
    for attempt in range(attempts):
        try:
            await setup()
            return
        except errors:
            if attempt == attempts - 1:
                raise
            logger.debug("Migrations raced with another process; retrying", exc_info=True)
            await asyncio.sleep(0.05 * (attempt + 1))


async def open_storage(options: Runs) -> Storage:
    url = options.postgres_url()
    if url is None:
        return await _open_sqlite(options)
    return await _open_postgres(url)


async def _open_sqlite(options: Runs) -> Storage:
    import aiosqlite
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    from langserve_like.runs.db_sqlite import SqliteDatabase
    from langserve_like.runs.saver import ThreadSqliteSaver

    path = options.database_path()
    db = SqliteDatabase(path, options.synchronous)
    store_conn = await aiosqlite.connect(path, isolation_level=None)
    await store_conn.execute("PRAGMA busy_timeout=5000")
    # Durable at the same level as the runs (NORMAL: no fsync per commit in WAL).
    await store_conn.execute(f"PRAGMA synchronous={options.synchronous}")
    # Checkpoints go through the runs' own writer thread and connection (see saver.py).
    saver = _settled_saver(ThreadSqliteSaver, db)(db)
    await _setup(saver.asetup, db.errors)
    store = AsyncSqliteStore(store_conn)
    await _setup(store.setup, db.errors)
    return Storage(db, saver, store, closers=[store_conn.close])


async def _open_postgres(url: str) -> Storage:
    try:
        from langgraph.store.postgres.aio import AsyncPostgresStore
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool, ConnectionPool
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "Runs on PostgreSQL need the postgres extra: pip install 'langserve-like[postgres]'"
        ) from exc

    from langserve_like.runs import db_postgres
    from langserve_like.runs.migrations import setup_checkpointing
    from langserve_like.runs.saver_postgres import ThreadPostgresSaver

    db = await asyncio.to_thread(db_postgres.PostgresDatabase, url)  # connects and migrates
    # LangGraph's savers and store take dict rows; its documents go through orjson,
    # and a checkout tests the connection as the runs pool does (a restart).
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    common: dict[str, Any] = {"min_size": 1, "max_size": SAVER_POOL_SIZE, "kwargs": kwargs}
    saver_pool: ConnectionPool[Any] = ConnectionPool(
        url,
        **common,
        open=False,
        name="lsl-saver",
        configure=db_postgres.configure_json,
        check=db_postgres.check_idle,
    )
    store_pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        **common,
        open=False,
        name="lsl-store",
        configure=db_postgres.aconfigure_json,
        check=db_postgres.acheck_idle,
    )
    threads = ThreadPoolExecutor(SAVER_POOL_SIZE, thread_name_prefix="lsl-saver")
    try:
        await asyncio.to_thread(saver_pool.open)
        await store_pool.open()
        saver = _settled_saver(ThreadPostgresSaver, db, trust_lease=True)(saver_pool, threads)
        store = AsyncPostgresStore(store_pool)
        await setup_checkpointing(url, saver, store)
    except BaseException:
        await store_pool.close()
        saver_pool.close()
        threads.shutdown()
        db.close()
        raise

    async def close_saver() -> None:
        await asyncio.to_thread(saver_pool.close)
        threads.shutdown()

    return Storage(db, saver, store, postgres_url=url, closers=[store_pool.close, close_saver])
