"""PostgreSQL under the same steps as the SQLite file (`db.Database`).

A step is a synchronous function over one connection, run whole inside one
transaction on a small thread pool with psycopg's connection pool. `PgConn`
gives the steps what `sqlite3.Connection` gives them: `?` placeholders and rows
that answer by column name and by index, with JSON columns read back as text;
so `queue.py` and its neighbours keep one SQL text for both databases.

Several replicas share the database: the claim skips the rows another replica is
locking (`FOR UPDATE SKIP LOCKED`); a step that loses a race on a unique index
(two claimers on one thread, two creates with one idempotency key) is run again
from the start, where it now finds the winner's row; and the transactions that
make a run claimable or end one `NOTIFY lsl_wake`, which a listener connection
of every replica turns into a wake-up of its worker and of its waiters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import select
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg.types.string import TextLoader
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langserve_like.runs.db import WAKE_CHANNEL, Conn
from langserve_like.runs.migrations import migrate_postgres

__all__ = ["PgConn", "PostgresDatabase", "listen"]

logger = logging.getLogger("langserve_like.runs")

T = TypeVar("T")

POOL_SIZE = 6
# Races a step loses to another replica and wins when run again (see the module doc).
RETRIED = (pg_errors.UniqueViolation, pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
RETRIES = 5


class Row(tuple[Any, ...]):
    """A row by index (`row[0]`) and by column name (`row["status"]`), as `sqlite3.Row`."""

    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._names = names
        return row

    return make


_translated: dict[str, str] = {}


def _translate(sql: str) -> str:
    """`?` placeholders to psycopg's `%s` (no statement here has a `?` or `%` in a literal)."""
    found = _translated.get(sql)
    if found is None:
        found = _translated[sql] = sql.replace("%", "%%").replace("?", "%s")
    return found


class PgConn:
    """A psycopg connection as the steps use it (see the module doc)."""

    dialect = "postgres"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        return self.conn.execute(_translate(sql), tuple(parameters))

    def executemany(self, sql: str, seq_of_parameters: Sequence[Sequence[Any]], /) -> Any:
        with self.conn.cursor() as cursor:
            cursor.executemany(_translate(sql), seq_of_parameters)
        return cursor


def _has_news(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle pooled connection has bytes waiting (or is gone).

    An idle connection is sent nothing: a server that restarted or ended the
    session has left its goodbye or an end of file to read, so a readable socket
    is the sign of a broken one. Asking the socket costs no round trip, where
    psycopg's own check sends an empty query on every checkout (six per run)."""
    try:
        ready, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(ready)


def check_idle(conn: psycopg.Connection[Any]) -> None:
    """The runs pool's checkout check: the empty query only for a suspect connection."""
    if _has_news(conn):
        ConnectionPool.check_connection(conn)


async def acheck_idle(conn: psycopg.AsyncConnection[Any]) -> None:
    """`check_idle` for the checkpointer's and the store's async pool."""
    if _has_news(conn):
        await AsyncConnectionPool.check_connection(conn)


def _json_dumps(obj: Any) -> bytes | str:
    """LangGraph's checkpoint and metadata documents, by orjson (a few times faster
    than the standard library, which psycopg uses by default); what orjson refuses
    (keys that are not strings, integers over 64 bits) by the standard library."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj)


def _json_loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # integers over 64 bits
        return json.loads(data)


def configure_json(conn: psycopg.Connection[Any]) -> None:
    """The checkpointer's connections read and write JSON by orjson."""
    set_json_dumps(_json_dumps, conn)
    set_json_loads(_json_loads, conn)


async def aconfigure_json(conn: psycopg.AsyncConnection[Any]) -> None:
    """`configure_json` for the store's async pool."""
    set_json_dumps(_json_dumps, conn)
    set_json_loads(_json_loads, conn)


def configure(conn: psycopg.Connection[Any]) -> None:
    """JSON columns come back as their text, as SQLite's do (callers `loads` them)."""
    conn.row_factory = _row_factory
    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, TextLoader)


def _connect(uri: str, timeout: float = 10) -> psycopg.Connection[Any]:
    conn = psycopg.connect(uri, autocommit=True, connect_timeout=max(1, int(timeout)))
    configure(conn)
    return conn


class _Dedicated:
    """A connection of its own, reopened after a failure (the heartbeat's)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.conn: psycopg.Connection[Any] | None = None

    def run(self, fn: Callable[[Conn], T]) -> T:
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.close()
            self.conn = _connect(self.uri, timeout=5)
        try:
            with self.conn.transaction():
                return fn(PgConn(self.conn))
        except psycopg.OperationalError:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class PostgresDatabase:
    dialect = "postgres"
    errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(self, uri: str, pool_size: int = POOL_SIZE) -> None:
        self.uri = uri
        with _connect(uri) as conn:
            migrate_postgres(conn)
        self.pool: ConnectionPool[Any] = ConnectionPool(
            uri,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=configure,
            timeout=10,
            # A restarted server leaves every idle connection broken: each would
            # fail one request, so a checkout tests the connection (see _has_news).
            check=check_idle,
            name="lsl-runs",
            open=True,
        )
        self._threads = ThreadPoolExecutor(pool_size, thread_name_prefix="lsl-pg")

    def _transaction(self, fn: Callable[[Conn], T], single: bool = False) -> T:
        for attempt in range(RETRIES):
            try:
                with self.pool.connection() as conn:
                    if single:  # one statement, or one batch psycopg pipelines as one
                        return fn(PgConn(conn))
                    with conn.transaction():
                        return fn(PgConn(conn))
            except RETRIED:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _autocommit(self, fn: Callable[[Conn], T]) -> T:
        with self.pool.connection() as conn:
            return fn(PgConn(conn))

    async def write(self, fn: Callable[[Conn], T], *, single: bool = False) -> T:
        """Run `fn` inside one transaction (again, whole, if it lost a race).
        `single`: `fn` sends one statement or one `executemany` batch, atomic by
        itself (a pipeline's implicit transaction): no BEGIN and COMMIT round trips."""
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, self._transaction, fn, single
        )

    async def read(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn` in autocommit: a snapshot per statement, as the SQLite reader has."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._autocommit, fn)

    async def ping(self) -> None:
        """A fresh connection, not a pooled one: the pool may hold connections to a
        database that has gone since."""

        def ping() -> None:
            with _connect(self.uri, timeout=3) as conn:
                conn.execute("SELECT 1 FROM lsl_schema_version LIMIT 1")

        await asyncio.to_thread(ping)

    def check_file(self) -> None:
        """Nothing to check here: the server holds the data (see `ping`)."""

    def dedicated(self) -> _Dedicated:
        return _Dedicated(self.uri)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self.pool.close()


async def listen(uri: str, on_notify: Callable[[str], None], retry_after: float = 1.0) -> None:
    """Call `on_notify(payload)` for every `NOTIFY lsl_wake`, until cancelled; and
    with "" after each (re)connection, for what was sent while it was away."""
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(uri, autocommit=True, connect_timeout=5)
            async with conn:
                await conn.execute(f"LISTEN {WAKE_CHANNEL}")
                on_notify("")
                async for notify in conn.notifies():
                    on_notify(notify.payload)
        except psycopg.Error as exc:
            logger.warning("The runs database's wake-ups are unavailable: %s", exc)
        # Reconnect backoff; meanwhile the worker's poll finds new runs.
        await asyncio.sleep(retry_after)
