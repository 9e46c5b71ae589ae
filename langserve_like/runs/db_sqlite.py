"""The SQLite file: schema, migrations and the one thread that talks to it.

Each database step runs whole on a dedicated thread over the standard library's
driver. Writes start with `BEGIN IMMEDIATE`, so two processes on one file take
turns (WAL mode lets readers go on meanwhile) and a claim or a create is one
atomic step.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from langserve_like.runs.db import Conn

__all__ = ["SCHEMA_VERSION", "SqliteConnection", "SqliteDatabase", "connect", "transaction"]

T = TypeVar("T")
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lsl_schema_version (v INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS lsl_threads (
  thread_id TEXT PRIMARY KEY,
  graph_id TEXT,
  status TEXT NOT NULL DEFAULT 'idle'
    CHECK (status IN ('idle','busy','interrupted','error')),
  metadata TEXT NOT NULL DEFAULT '{}',
  "values" TEXT, interrupts TEXT, error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lsl_runs (
  run_id TEXT PRIMARY KEY,
  thread_id TEXT REFERENCES lsl_threads(thread_id) ON DELETE CASCADE,
  graph_id TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('pending','running','success','error','timeout','interrupted')),
  kwargs TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  multitask_strategy TEXT NOT NULL DEFAULT 'enqueue',
  idempotency_key TEXT,
  available_at INTEGER NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  max_failures INTEGER NOT NULL DEFAULT 3,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  retry_at INTEGER,
  cancel_action TEXT CHECK (cancel_action IN ('interrupt','rollback')),
  output TEXT, error TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER, ended_at INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS lsl_runs_pending ON lsl_runs (available_at, run_id)
  WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS lsl_runs_leases ON lsl_runs (lease_expires_at)
  WHERE status = 'running';
CREATE UNIQUE INDEX IF NOT EXISTS lsl_runs_one_running_per_thread ON lsl_runs (thread_id)
  WHERE status = 'running';
CREATE INDEX IF NOT EXISTS lsl_runs_thread ON lsl_runs (thread_id, created_at DESC);
CREATE UNIQUE INDEX IF NOT EXISTS lsl_runs_idem ON lsl_runs (graph_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS lsl_run_events (
  run_id TEXT NOT NULL REFERENCES lsl_runs(run_id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  event TEXT NOT NULL,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"""


class SqliteConnection(sqlite3.Connection):
    """The standard library's connection, labelled with its dialect (`db.sql`).
    Its timestamps are epoch milliseconds from the application clock (one host)."""

    dialect = "sqlite"


_OPEN_TIMEOUT = 5.0


def _use_wal(conn: SqliteConnection, deadline: float) -> None:
    """Switch the database to WAL (persistent: a no-op once any process has).

    Processes that open a new database at once (`langserve-like serve` and its
    workers started together) each try to switch it; both hold a shared lock and
    want an exclusive one, so SQLite answers one of them "database is locked" at
    once rather than calling the busy handler (waiting could deadlock). Trying
    again finds the switch made by the other.
    """
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)  # a back-off before trying again, not a synchronisation


def connect(path: Path, synchronous: str = "NORMAL") -> SqliteConnection:
    """A connection in autocommit mode: transactions are explicit (`transaction`)."""
    conn = sqlite3.connect(
        path,
        isolation_level=None,
        check_same_thread=False,
        timeout=_OPEN_TIMEOUT,  # also the busy timeout of every statement after
        factory=SqliteConnection,
    )
    conn.row_factory = sqlite3.Row
    _use_wal(conn, deadline=time.monotonic() + _OPEN_TIMEOUT)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextlib.contextmanager
def transaction(conn: SqliteConnection) -> Iterator[SqliteConnection]:
    """`BEGIN IMMEDIATE` … `COMMIT`: the write lock is taken up front, so a
    read-then-write step never fails half-way on another process's lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: SqliteConnection) -> None:
    with transaction(conn):
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        row = conn.execute("SELECT max(v) FROM lsl_schema_version").fetchone()
        if row[0] is None:
            conn.execute("INSERT INTO lsl_schema_version (v) VALUES (?)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise RuntimeError(
                f"The runs database has schema version {row[0]}, newer than this "
                f"langserve_like ({SCHEMA_VERSION}); upgrade langserve_like"
            )


class _Dedicated:
    def __init__(self, path: Path, synchronous: str) -> None:
        self.conn = connect(path, synchronous)

    def run(self, fn: Callable[[Conn], T]) -> T:
        with transaction(self.conn):
            return fn(self.conn)

    def close(self) -> None:
        self.conn.close()


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


class SqliteDatabase:
    """One writer connection and one reader connection, each on its own thread."""

    dialect = "sqlite"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._writer = connect(path, synchronous)
        self._reader = connect(path, synchronous)
        self._write_pool = ThreadPoolExecutor(1, thread_name_prefix="lsl-db-write")
        self._read_pool = ThreadPoolExecutor(1, thread_name_prefix="lsl-db-read")
        migrate(self._writer)
        self._identity = _identity(os.stat(path))

    def check_file(self) -> None:
        """Raise unless the path still names the file this process has open: a file
        removed or replaced under a running server still takes its writes on the
        open descriptors, where nobody (no restart, no other process) will find them."""
        try:
            found = _identity(os.stat(self.path))
        except OSError as exc:
            raise sqlite3.OperationalError(f"{self.path}: {exc.strerror}") from exc
        if found != self._identity:
            raise sqlite3.OperationalError(f"{self.path} is no longer the file in use")

    async def write(self, fn: Callable[[Conn], T], *, single: bool = False) -> T:
        """Run `fn` inside one `BEGIN IMMEDIATE` transaction (`single` or not: the
        transaction is what makes a batch one commit, one fsync, here)."""

        def step() -> T:
            with transaction(self._writer):
                return fn(self._writer)

        return await asyncio.get_running_loop().run_in_executor(self._write_pool, step)

    @property
    def writer(self) -> SqliteConnection:
        """The writer connection, for calls that run on its thread (`on_writer`)."""
        return self._writer

    async def on_writer(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the writer's thread, outside any transaction: the
        checkpointer's calls share the writer, so they never wait on its lock."""
        return await asyncio.get_running_loop().run_in_executor(self._write_pool, fn)

    async def read(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn` on the reader connection (a consistent WAL snapshot per statement)."""
        return await asyncio.get_running_loop().run_in_executor(self._read_pool, fn, self._reader)

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute("SELECT 1").fetchone())

    def dedicated(self) -> _Dedicated:
        return _Dedicated(self.path, self.synchronous)

    def close(self) -> None:
        self._write_pool.shutdown(wait=True)
        self._read_pool.shutdown(wait=True)
        self._writer.close()
        self._reader.close()
