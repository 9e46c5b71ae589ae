"""Where an engine keeps everything: the runs database, LangGraph's checkpointer
and store, on one SQLite file or one PostgreSQL database (`Runs.database`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from langserve_like.runs.db import Database
from langserve_like.runs.options import Runs

__all__ = ["Storage", "open_storage"]

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


def _settled_saver(base: type[Any]) -> type[Any]:
    """LangGraph's checkpointer, whose writes run to their commit even when the
    run that made them is cancelled. A write cancelled between its INSERT and its
    COMMIT would leave its transaction open on the shared connection: on SQLite
    it holds the file's write lock, so every other writer (the finish of that very
    run) would wait out its busy timeout and fail; a rollback must also see every
    checkpoint the run wrote before it deletes them."""

    class SettledSaver(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.in_flight: set[asyncio.Future[Any]] = set()

        async def aput(self, *args: Any, **kwargs: Any) -> Any:
            return await self._shielded(super().aput(*args, **kwargs))

        async def aput_writes(self, *args: Any, **kwargs: Any) -> None:
            await self._shielded(super().aput_writes(*args, **kwargs))

        async def _shielded(self, coro: Any) -> Any:
            task = asyncio.ensure_future(coro)
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
            return await asyncio.shield(task)

        async def settled(self) -> None:
            """Wait for writes whose run was cancelled (before reading or undoing them)."""
            if self.in_flight:
                await asyncio.wait(set(self.in_flight))

    return SettledSaver


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
    saver = _settled_saver(ThreadSqliteSaver)(db)
    await saver.asetup()
    store = AsyncSqliteStore(store_conn)
    await store.setup()
    return Storage(db, saver, store, closers=[store_conn.close])


async def _open_postgres(url: str) -> Storage:
    try:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from langgraph.store.postgres.aio import AsyncPostgresStore
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "Runs on PostgreSQL need the postgres extra: pip install 'langserve-like[postgres]'"
        ) from exc

    from langserve_like.runs.db_postgres import PostgresDatabase
    from langserve_like.runs.migrations import setup_checkpointing

    db = await asyncio.to_thread(PostgresDatabase, url)  # connects and migrates
    # LangGraph's savers take dict rows and no server-side prepared statements.
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, min_size=1, max_size=SAVER_POOL_SIZE, kwargs=kwargs, open=False, name="lsl-saver"
    )
    try:
        await pool.open()
        saver = _settled_saver(AsyncPostgresSaver)(pool)
        store = AsyncPostgresStore(pool)
        await setup_checkpointing(url, saver, store)
    except BaseException:
        await pool.close()
        db.close()
        raise
    return Storage(db, saver, store, postgres_url=url, closers=[pool.close])
