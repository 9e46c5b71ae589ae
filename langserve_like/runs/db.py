"""What every runs database offers, whichever engine holds it.

Every database step is a plain synchronous function over one connection (`Conn`)
that runs whole on a thread of the database's own (`Database.write` /
`Database.read`): one hop per transaction instead of one per statement, and a
synchronous driver rather than an async wrapper that would hop per statement.
The same step runs on SQLite (`db_sqlite`) and on PostgreSQL (`db_postgres`):
statements use `?` placeholders and rows answer by column name and by index on
both; where the two dialects differ a step asks `conn.dialect` (see `sql`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import orjson

__all__ = [
    "CLOCK_SQL",
    "WAKE_CHANNEL",
    "Conn",
    "clock_ms",
    "Cursor",
    "Database",
    "Dedicated",
    "dumps",
    "loads",
    "notify",
    "now_ms",
    "sql",
]

WAKE_CHANNEL = "lsl_wake"

T = TypeVar("T")

# PostgreSQL's clock in epoch ms, as `clock_ms` reads it: a statement may read it
# beside its own columns instead of paying a round trip of its own.
CLOCK_SQL = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection inside one transaction: `sqlite3.Connection` or its PostgreSQL twin."""

    dialect: str  # "sqlite" | "postgres"

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, seq_of_parameters: Sequence[Sequence[Any]], /) -> Any: ...


class Dedicated(Protocol):
    """A connection of its own, for a thread that must not wait behind the pool
    (the heartbeat): `run` executes one transaction body on it, synchronously."""

    def run(self, fn: Callable[[Conn], T]) -> T: ...

    def close(self) -> None: ...


class Database(Protocol):
    dialect: str
    errors: tuple[type[Exception], ...]  # what a failed database step raises

    async def write(self, fn: Callable[[Conn], T], *, single: bool = False) -> T:
        """`fn` in one transaction; `single`: it sends one statement or batch,
        which the database may run atomically without a transaction block."""

    async def read(self, fn: Callable[[Conn], T]) -> T: ...

    async def ping(self) -> None:
        """Raise one of `errors` unless the database answers now."""

    def check_file(self) -> None:
        """Raise one of `errors` if the storage is no longer where it was opened."""

    def dedicated(self) -> Dedicated: ...

    def close(self) -> None: ...


# The few spellings that differ between SQLite and PostgreSQL, by dialect.
_SQL = {
    "sqlite": {
        "least": "min",  # the two-argument scalar minimum
        "skip_locked": "",  # one writer at a time: nothing to skip
        "share_lock": "",
        "run_id_of": "json_extract(CAST(metadata AS TEXT), '$.run_id')",  # checkpoint metadata
        "json_param": "?",
    },
    "postgres": {
        "least": "least",
        # Claimers on other replicas skip the runs one of them is taking.
        "skip_locked": " FOR UPDATE OF r SKIP LOCKED",
        # Holds the run's row while its events go in: a rollback deleting the run
        # meanwhile waits, or has deleted it and the events are not written.
        "share_lock": " FOR SHARE",
        "run_id_of": "metadata->>'run_id'",
        # A JSON text where PostgreSQL cannot infer the column's type (inside CASE).
        "json_param": "CAST(? AS jsonb)",
    },
}


def sql(conn: Conn, name: str) -> str:
    """The `name` spelling of `conn`'s dialect."""
    return _SQL[conn.dialect][name]


def notify(conn: Conn, payload: str = "") -> None:
    """Wake every replica's listener when this transaction commits: a run may be
    claimable now (""), or the run `payload` ended (its waiters). PostgreSQL only:
    SQLite's writers are this process, which wakes its worker itself, or its
    siblings on one host, which poll."""
    if conn.dialect == "postgres":
        conn.execute(f"SELECT pg_notify('{WAKE_CHANNEL}', ?)", (payload,))


def now_ms() -> int:
    """The application clock in epoch milliseconds."""
    return int(time.time() * 1000)


def clock_ms(conn: Conn) -> int:
    """The clock that times leases, retries and `after_seconds`, in epoch ms: the
    database server's on PostgreSQL, one clock for every replica whatever their
    own clocks say (one round trip); the application's on SQLite (one host)."""
    if conn.dialect == "postgres":
        row = conn.execute(f"SELECT {CLOCK_SQL}")
        return int(row.fetchone()[0])
    return now_ms()


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(raw: str | bytes | None) -> Any:
    return None if raw is None else orjson.loads(raw)
