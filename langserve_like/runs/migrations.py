"""Versioned schema migrations of the runs tables on PostgreSQL.

`MIGRATIONS[i]` brings the schema from version i to i + 1; `lsl_schema_version`
holds one row per version applied. Replicas that start at once take turns on a
transaction-level advisory lock, so each migration runs once and the others find
it done. DDL is transactional in PostgreSQL: a migration that fails leaves
nothing half-applied.

The types follow the SQLite file's, so one SQL text serves both: ids are text
(whatever the API accepted), JSON is jsonb (read back as text, see `db_postgres`),
and timestamps are epoch milliseconds (bigint). The times that decide something
(leases, retries, `after_seconds`) come from the database server's clock
(`db.clock_ms`), so replicas whose clocks disagree still agree on whose lease has
expired; the others (created, updated, ended) are the writing replica's.

LangGraph's checkpointer and store keep their own tables and migrations
(`setup_checkpointing`); those build indexes `CONCURRENTLY`, which cannot run in
a transaction, so replicas take turns on a session-level lock for them instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["MIGRATIONS", "SCHEMA_LOCK", "migrate_postgres", "setup_checkpointing"]

# Advisory lock keys: "lsl" + which step.
SCHEMA_LOCK = 0x6C736C01
CHECKPOINT_LOCK = 0x6C736C02
LOCK_POLL = 0.1

MIGRATIONS: list[str] = [
    """
    CREATE TABLE lsl_threads (
      thread_id text PRIMARY KEY,
      graph_id text,
      status text NOT NULL DEFAULT 'idle'
        CHECK (status IN ('idle','busy','interrupted','error')),
      metadata jsonb NOT NULL DEFAULT '{}',
      "values" jsonb, interrupts jsonb, error jsonb,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL
    );
    CREATE TABLE lsl_runs (
      run_id text PRIMARY KEY,
      thread_id text REFERENCES lsl_threads(thread_id) ON DELETE CASCADE,
      graph_id text NOT NULL,
      status text NOT NULL
        CHECK (status IN ('pending','running','success','error','timeout','interrupted')),
      kwargs jsonb NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}',
      multitask_strategy text NOT NULL DEFAULT 'enqueue',
      idempotency_key text,
      available_at bigint NOT NULL,
      attempt int NOT NULL DEFAULT 0,
      failures int NOT NULL DEFAULT 0,
      max_failures int NOT NULL DEFAULT 3,
      lease_owner text,
      lease_expires_at bigint,
      retry_at bigint,
      cancel_action text CHECK (cancel_action IN ('interrupt','rollback')),
      output jsonb, error jsonb,
      created_at bigint NOT NULL,
      started_at bigint, ended_at bigint,
      updated_at bigint NOT NULL
    );
    CREATE INDEX lsl_runs_pending ON lsl_runs (available_at, run_id) WHERE status = 'pending';
    CREATE INDEX lsl_runs_leases ON lsl_runs (lease_expires_at) WHERE status = 'running';
    CREATE UNIQUE INDEX lsl_runs_one_running_per_thread ON lsl_runs (thread_id)
      WHERE status = 'running';
    CREATE INDEX lsl_runs_thread ON lsl_runs (thread_id, created_at DESC);
    CREATE UNIQUE INDEX lsl_runs_idem ON lsl_runs (graph_id, idempotency_key)
      WHERE idempotency_key IS NOT NULL;
    CREATE TABLE lsl_run_events (
      run_id text NOT NULL REFERENCES lsl_runs(run_id) ON DELETE CASCADE,
      seq bigint NOT NULL,
      attempt int NOT NULL,
      event text NOT NULL,
      data bytea NOT NULL,
      created_at bigint NOT NULL,
      PRIMARY KEY (run_id, seq)
    );
    """,
]


def migrate_postgres(conn: Any) -> int:
    """Apply the migrations this database lacks (`conn`: a psycopg connection in
    autocommit mode); the schema version afterwards."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS lsl_schema_version"
            " (v int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = conn.execute("SELECT coalesce(max(v), 0) FROM lsl_schema_version").fetchone()[0]
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"The runs database has schema version {current}, newer than this "
                f"langserve_like ({len(MIGRATIONS)}); upgrade langserve_like"
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            conn.execute(MIGRATIONS[version - 1])
            conn.execute("INSERT INTO lsl_schema_version (v) VALUES (%s)", (version,))
    return len(MIGRATIONS)


async def setup_checkpointing(uri: str, *parts: Any) -> None:
    """`await part.setup()` for LangGraph's checkpointer and store, one replica at a
    time. The lock is tried rather than waited for: a waiting statement would hold
    a snapshot that the holder's `CREATE INDEX CONCURRENTLY` waits out in turn."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(uri, autocommit=True) as conn:
        while True:
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (CHECKPOINT_LOCK,))
            row = await cursor.fetchone()
            if row is not None and row[0]:
                break
            await asyncio.sleep(LOCK_POLL)  # another replica is setting up
        try:
            for part in parts:  # LangGraph's async parts have `setup`, ours `asetup`
                await (part.asetup() if hasattr(part, "asetup") else part.setup())
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (CHECKPOINT_LOCK,))
