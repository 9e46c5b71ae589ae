"""The run queue's database steps: create, claim, heartbeat, fenced finish, reaper.

Each function is one transaction body (see `db.Database.write`). The fencing token
is `(run_id, attempt)`: `attempt` grows on every claim, and every change a worker
makes is conditional on it and on `status='running'`, so an attempt that lost its
lease (the reaper gave the run to another) can no longer write anything.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from langchain_core.utils.uuid import uuid7

from langserve_like.runs.db import CLOCK_SQL, Conn, clock_ms, dumps, notify, now_ms, sql

__all__ = [
    "Conflict",
    "append_events",
    "NewRun",
    "NotFound",
    "cancel",
    "claim",
    "finish",
    "heartbeat",
    "insert_run",
    "owner_id",
    "reap",
    "release",
    "settle_thread",
]

IN_FLIGHT = ("pending", "running")
CANCEL = "cancel:"  # a wake-up's payload prefix: "cancel:<action>:<run_id>"
TERMINAL = ("success", "error", "timeout", "interrupted")


class Conflict(Exception):
    """The request conflicts with the thread's state (answered 409)."""


class NotFound(Exception):
    """The thread or run does not exist (answered 404)."""


def append_events(conn: Conn, run_id: str, attempt: int, events: list[Any]) -> None:
    """Write events (`events.Event`) of a run inside the caller's transaction, in
    one batch (psycopg pipelines it: one round trip)."""
    now = now_ms()
    conn.executemany(
        "INSERT INTO lsl_run_events (run_id, seq, attempt, event, data, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(run_id, e.seq, attempt, e.event, e.data, now) for e in events],
    )


def _append_terminal(
    conn: Conn, run_id: str, attempt: int, status: str, error: str | None = None
) -> None:
    """The closing events of a run that ends without its worker (cancelled while
    pending, or given up by the reaper), so replays still end with `end`."""
    row = conn.execute(
        "SELECT coalesce(max(seq), 0) FROM lsl_run_events WHERE run_id = ?", (run_id,)
    ).fetchone()
    seq = int(row[0])
    events = [("error", error)] if error else []
    events.append(("end", dumps({"run_id": run_id, "status": status})))
    for offset, (name, data) in enumerate(events, start=1):
        conn.execute(
            "INSERT INTO lsl_run_events (run_id, seq, attempt, event, data, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, seq + offset, attempt, name, data.encode(), now_ms()),
        )


def owner_id() -> str:
    """`host:pid:uuid`: who holds a lease, and whether that process still lives."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class NewRun:
    graph_id: str
    kwargs: dict[str, Any]
    thread_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    multitask_strategy: str = "enqueue"
    if_not_exists: str = "reject"
    idempotency_key: str | None = None
    after_ms: int = 0
    max_failures: int = 3
    run_id: str = field(default_factory=lambda: str(uuid7()))
    cancelled: list[str] = field(default_factory=list)  # running runs it asked to stop
    claimed: Any = None  # the run's row if `insert_run` also claimed it (see there)


def insert_run(conn: Conn, run: NewRun, lease: tuple[str, int] | None = None) -> tuple[Any, bool]:
    """Insert `run` honouring the thread's multitask strategy: (row, created).

    With `lease` (owner, ttl_ms), a worker with a free slot also claims the run in
    the same transaction if the claim rules allow it now (`run.claimed`): one
    transaction and no trip through the claim loop. The row returned is the one
    inserted, pending, as the API answers for a new run.
    An `Idempotency-Key` seen before returns the run it created, unchanged.
    On PostgreSQL a step that lost a race is run again whole: start afresh.
    """
    run.cancelled, run.claimed = [], None
    if run.idempotency_key is not None:
        found = conn.execute(
            "SELECT * FROM lsl_runs WHERE graph_id = ? AND idempotency_key = ?",
            (run.graph_id, run.idempotency_key),
        ).fetchone()
        if found is not None:
            return found, False
    # A stateless run reads PostgreSQL's clock inside its INSERT (see `_clock`).
    t, now_args = _clock(conn, _prepare_thread(conn, run) if run.thread_id is not None else None)
    row = conn.execute(
        "INSERT INTO lsl_runs (run_id, thread_id, graph_id, status, kwargs, metadata,"
        " multitask_strategy, idempotency_key, available_at, max_failures, created_at,"
        f" updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, {t} + ?, ?, {t}, {t}) RETURNING *",
        (
            run.run_id,
            run.thread_id,
            run.graph_id,
            dumps(run.kwargs),
            dumps(run.metadata),
            run.multitask_strategy,
            run.idempotency_key,
            *now_args,
            run.after_ms,
            run.max_failures,
            *now_args,
            *now_args,
        ),
    ).fetchone()
    if lease is not None and not run.after_ms:
        # The insert's clock: the run is available from then (`available_at`).
        claimed = claim(conn, lease[0], lease[1], 1, run.run_id, now=int(row["created_at"]))
        run.claimed = claimed[0] if claimed else None
    if run.claimed is None:
        notify(conn)
    return row, True


def _prepare_thread(conn: Conn, run: NewRun) -> int:
    """Lock the thread's row and apply the multitask strategy; the clock (`now`).

    On PostgreSQL creates on one thread take turns on the row lock (a multitask
    strategy reads, then writes); SQLite has one writer at a time."""
    if conn.dialect == "postgres":
        exists = conn.execute(
            "SELECT 1 FROM lsl_threads WHERE thread_id = ? FOR UPDATE", (run.thread_id,)
        ).fetchone()
        # The clock is read once the lock is held, by the next statement: read in
        # the locking one, a create that waited for the lock would sort before the
        # run that held it, which a worker may have started already.
        rows = conn.execute(
            f"SELECT {CLOCK_SQL}, r.run_id, r.status FROM (SELECT 1) AS one"
            " LEFT JOIN lsl_runs r ON r.thread_id = ? AND r.status IN ('pending', 'running')",
            (run.thread_id,),
        ).fetchall()
        now, in_flight = int(rows[0][0]), [r for r in rows if r["run_id"] is not None]
    else:
        now = now_ms()
        exists = conn.execute(
            "SELECT 1 FROM lsl_threads WHERE thread_id = ?", (run.thread_id,)
        ).fetchone()
        in_flight = conn.execute(
            "SELECT run_id, status FROM lsl_runs WHERE thread_id = ? AND status IN"
            " ('pending', 'running')",
            (run.thread_id,),
        ).fetchall()
    if exists is None:
        if run.if_not_exists != "create":
            raise NotFound(f"Thread {run.thread_id} not found")
        conn.execute(
            "INSERT INTO lsl_threads (thread_id, graph_id, metadata, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (run.thread_id, run.graph_id, dumps({"graph_id": run.graph_id}), now, now),
        )
    if in_flight and run.multitask_strategy == "reject":
        raise Conflict("Thread is busy with another run; multitask_strategy is 'reject'")
    if in_flight and run.multitask_strategy in ("interrupt", "rollback"):
        for other in in_flight:
            if cancel(conn, other["run_id"], run.multitask_strategy) == "running":
                run.cancelled.append(other["run_id"])
    conn.execute(
        "UPDATE lsl_threads SET status = 'busy', graph_id = coalesce(graph_id, ?),"
        " updated_at = ? WHERE thread_id = ?",
        (run.graph_id, now, run.thread_id),
    )
    return now


# A pending run `r` that may start at {t}: due, not backing off, and the oldest
# of its thread with nothing running there (FIFO per thread). One text for the
# claim and for the idle worker's read-only probe (`claimable`).
_STARTABLE = """r.status = 'pending' AND r.available_at <= {t}
            AND (r.retry_at IS NULL OR r.retry_at <= {t})
            AND (r.thread_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM lsl_runs o WHERE o.thread_id = r.thread_id
                AND (o.status = 'running' OR (o.status = 'pending'
                     AND (o.available_at, o.run_id) < (r.available_at, r.run_id)))))"""


def claim(
    conn: Conn,
    owner: str,
    ttl_ms: int,
    limit: int,
    run_id: str | None = None,
    *,
    now: int | None = None,
) -> list[Any]:
    """Take up to `limit` runs that may start now (`_STARTABLE`), and stateless
    runs; only `run_id` if given. `now` is the clock already read in this transaction."""
    t, now_args = _clock(conn, now)
    startable = _STARTABLE.format(t=t)
    return conn.execute(
        f"""
        UPDATE lsl_runs SET status = 'running', attempt = attempt + 1, lease_owner = ?,
          lease_expires_at = {t} + ?, retry_at = NULL, started_at = coalesce(started_at, {t}),
          updated_at = {t}
        WHERE run_id IN (
          SELECT r.run_id FROM lsl_runs r
          WHERE {startable}
            AND (CAST(? AS TEXT) IS NULL OR r.run_id = ?)
          ORDER BY r.available_at, r.run_id LIMIT ?{sql(conn, "skip_locked")})
        RETURNING *
        """,
        (owner, *now_args, ttl_ms, *now_args * 4, run_id, run_id, limit),
    ).fetchall()


def claimable(conn: Conn) -> bool:
    """Whether a claim would take a run now (read-only, no lock)."""
    t, now_args = _clock(conn, None)
    sql_text = f"SELECT 1 FROM lsl_runs r WHERE {_STARTABLE.format(t=t)} LIMIT 1"
    return conn.execute(sql_text, (*now_args, *now_args)).fetchone() is not None


def _clock(conn: Conn, now: int | None) -> tuple[str, tuple[int, ...]]:
    """How a statement reads the clock: `now` as a parameter if the transaction
    read it already, else PostgreSQL's clock inline (no round trip of its own),
    else the application's (`clock_ms`)."""
    if now is None and conn.dialect == "postgres":
        return CLOCK_SQL, ()
    return "?", (clock_ms(conn) if now is None else now,)


def heartbeat(conn: Conn, run_id: str, attempt: int, ttl_ms: int) -> tuple[bool, str | None]:
    """Renew a lease: (still ours, the durable cancel request if any)."""
    t, now_args = _clock(conn, None)
    row = conn.execute(
        f"UPDATE lsl_runs SET lease_expires_at = {t} + ?, updated_at = {t} WHERE run_id = ?"
        " AND attempt = ? AND status = 'running' RETURNING cancel_action",
        (*now_args, ttl_ms, *now_args, run_id, attempt),
    ).fetchone()
    return (False, None) if row is None else (True, row["cancel_action"])


def finish(
    conn: Conn,
    run_id: str,
    attempt: int,
    status: str,
    *,
    output: Any = None,
    error: Any = None,
    thread: dict[str, Any] | None = None,
) -> tuple[Any, bool]:
    """The fenced terminal write: (the run's row, whether its thread has a queued
    run, claimable now); (None, False) if another attempt owns the run now."""
    now = now_ms()
    row: Any = conn.execute(
        "UPDATE lsl_runs SET status = ?, output = ?, error = ?, ended_at = ?,"
        " lease_owner = NULL, lease_expires_at = NULL, cancel_action = NULL, updated_at = ?"
        " WHERE run_id = ? AND attempt = ? AND status = 'running' RETURNING *",
        (
            status,
            None if output is None else dumps(output),
            None if error is None else dumps(error),
            now,
            now,
            run_id,
            attempt,
        ),
    ).fetchone()
    if row is None:
        return None, False
    # Busy now means a queued run: this one ended, and no other runs on its thread.
    busy = row["thread_id"] is not None and _settle_thread(
        conn, row["thread_id"], now, thread or {}
    )
    notify(conn, run_id)
    if busy:
        notify(conn)  # the thread's next run may start now, on any replica
    return row, busy


def settle_thread(conn: Conn, thread_id: str, state: dict[str, Any]) -> None:
    """The thread's status after a run left it, and its latest state."""
    _settle_thread(conn, thread_id, now_ms(), state)


def _settle_thread(conn: Conn, thread_id: str, now: int, state: dict[str, Any]) -> bool:
    """One statement: busy while the thread has a run in flight, else the state's
    status. Whether it is busy (it has a queued run, or one still running)."""
    sets = [
        "status = CASE WHEN EXISTS (SELECT 1 FROM lsl_runs WHERE thread_id = ? AND status IN"
        " ('pending', 'running')) THEN 'busy' ELSE ? END",
        "updated_at = ?",
    ]
    args: list[Any] = [thread_id, state.get("status", "idle"), now]
    for column in ("values", "interrupts", "error"):
        if column in state:
            sets.append(f'"{column}" = ?')
            args.append(None if state[column] is None else dumps(state[column]))
    row = conn.execute(
        f"UPDATE lsl_threads SET {', '.join(sets)} WHERE thread_id = ? RETURNING status",
        (*args, thread_id),
    ).fetchone()
    return row is not None and row[0] == "busy"


def release(conn: Conn, run_id: str, attempt: int) -> bool:
    """Graceful shutdown: hand the run back without counting a failure."""
    now = now_ms()
    cur = conn.execute(
        "UPDATE lsl_runs SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,"
        " updated_at = ? WHERE run_id = ? AND attempt = ? AND status = 'running'",
        (now, run_id, attempt),
    )
    notify(conn)
    return cur.rowcount == 1


def cancel(conn: Conn, run_id: str, action: str) -> str | None:
    """Record a cancel request: the run's status afterwards, or None if unknown.

    A pending run ends here (interrupted, or deleted for a rollback); a running
    one keeps a durable `cancel_action` that its worker honours.
    """
    row = conn.execute(
        "SELECT status, thread_id FROM lsl_runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    if row is None:
        return None
    now = now_ms()
    if row["status"] == "pending":
        # Only while still pending: on PostgreSQL a worker may claim it between
        # the read above and this write; the running branch then applies.
        if action == "rollback":
            cur = conn.execute(
                "DELETE FROM lsl_runs WHERE run_id = ? AND status = 'pending'", (run_id,)
            )
        else:
            cur = conn.execute(
                "UPDATE lsl_runs SET status = 'interrupted', ended_at = ?, updated_at = ?"
                " WHERE run_id = ? AND status = 'pending'",
                (now, now, run_id),
            )
        if cur.rowcount == 0:
            return cancel(conn, run_id, action)
        if action != "rollback":
            _append_terminal(conn, run_id, 0, "interrupted")
        if row["thread_id"] is not None:
            _settle_thread(conn, row["thread_id"], now, {})
        notify(conn, run_id)
        notify(conn)  # the thread's next run may start now
        return "deleted" if action == "rollback" else "interrupted"
    if row["status"] == "running":
        conn.execute(
            "UPDATE lsl_runs SET cancel_action = ?, updated_at = ? WHERE run_id = ?",
            (action, now, run_id),
        )
        notify(conn, f"{CANCEL}{action}:{run_id}")  # its worker may be another replica
    return str(row["status"])


def reap(conn: Conn, *, stream_retention_ms: int) -> list[Any]:
    """Requeue runs whose lease expired, or whose owner is a dead process on this
    host (found at once after a crash and restart rather than a lease later).
    A run that failed `max_failures` times ends as an error instead."""
    now = clock_ms(conn)
    dead = [
        row["run_id"]
        for row in conn.execute(
            "SELECT run_id, lease_owner FROM lsl_runs WHERE status = 'running'"
        ).fetchall()
        if _owner_is_dead(row["lease_owner"])
    ]
    error = dumps({"error": "WorkerLost", "message": "lease expired; attempts exhausted"})
    rows = conn.execute(
        f"""
        UPDATE lsl_runs SET failures = failures + 1,
          status = CASE WHEN failures + 1 >= max_failures THEN 'error' ELSE 'pending' END,
          error = CASE WHEN failures + 1 >= max_failures THEN {sql(conn, "json_param")} END,
          ended_at = CASE WHEN failures + 1 >= max_failures THEN ? END,
          retry_at = ? + {sql(conn, "least")}(60000, 250 * (1 << failures)),
          lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
        WHERE status = 'running'
          AND (lease_expires_at < ? OR run_id IN ({",".join("?" * len(dead)) or "NULL"}))
        RETURNING run_id, thread_id, status, attempt
        """,
        (error, now, now, now, now, *dead),
    ).fetchall()
    for row in rows:
        if row["status"] == "error":
            _append_terminal(conn, row["run_id"], row["attempt"], "error", error)
            if row["thread_id"] is not None:
                _settle_thread(conn, row["thread_id"], now, {"status": "error"})
            notify(conn, row["run_id"])
    if rows:
        notify(conn)
    conn.execute(
        "DELETE FROM lsl_run_events WHERE run_id IN (SELECT run_id FROM lsl_runs"
        " WHERE status NOT IN ('pending', 'running') AND ended_at < ?)",
        (now - stream_retention_ms,),
    )
    return rows


def _owner_is_dead(owner: str | None) -> bool:
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # our own leases are renewed by our heartbeat
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
