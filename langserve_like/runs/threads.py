"""Threads in the database: create, read, patch, delete, search, copy."""

from __future__ import annotations

import uuid
from typing import Any

from langserve_like.runs import saver_tables
from langserve_like.runs.db import Conn, dumps, loads, notify, now_ms
from langserve_like.runs.queue import CANCEL, Conflict

__all__ = ["copy", "count", "create", "delete", "get", "patch", "search"]

SORTABLE = frozenset({"thread_id", "status", "created_at", "updated_at"})


def create(
    conn: Conn,
    thread_id: str | None,
    metadata: dict[str, Any],
    if_exists: str,
    graph_id: str | None,
) -> Any:
    thread_id = thread_id or str(uuid.uuid4())
    found = get(conn, thread_id)
    if found is not None:
        if if_exists == "do_nothing":
            return found
        raise Conflict(f"Thread {thread_id} already exists")
    now = now_ms()
    conn.execute(
        "INSERT INTO lsl_threads (thread_id, graph_id, metadata, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (thread_id, graph_id, dumps(metadata), now, now),
    )
    row = get(conn, thread_id)
    assert row is not None
    return row


def get(conn: Conn, thread_id: str) -> Any:
    return conn.execute("SELECT * FROM lsl_threads WHERE thread_id = ?", (thread_id,)).fetchone()


def patch(conn: Conn, thread_id: str, metadata: dict[str, Any]) -> Any:
    row = get(conn, thread_id)
    if row is None:
        return None
    merged = {**(loads(row["metadata"]) or {}), **metadata}
    conn.execute(
        "UPDATE lsl_threads SET metadata = ?, updated_at = ? WHERE thread_id = ?",
        (dumps(merged), now_ms(), thread_id),
    )
    return get(conn, thread_id)


def set_values(conn: Conn, thread_id: str, state: dict[str, Any]) -> None:
    """The denormalised latest state, after a direct state update."""
    conn.execute(
        'UPDATE lsl_threads SET "values" = ?, interrupts = ?, updated_at = ?,'
        " status = CASE WHEN status = 'busy' THEN status ELSE ? END WHERE thread_id = ?",
        (
            dumps(state.get("values")),
            dumps(state.get("interrupts") or {}),
            now_ms(),
            state.get("status", "idle"),
            thread_id,
        ),
    )


def delete(conn: Conn, thread_id: str) -> list[str]:
    """Delete the thread, its runs and checkpoints: the ids of its running runs,
    or raise `KeyError` if there was no such thread."""
    if get(conn, thread_id) is None:
        raise KeyError(thread_id)
    running = [
        r[0]
        for r in conn.execute(
            "SELECT run_id FROM lsl_runs WHERE thread_id = ? AND status = 'running'",
            (thread_id,),
        )
    ]
    conn.execute("DELETE FROM lsl_threads WHERE thread_id = ?", (thread_id,))
    saver_tables.delete_thread(conn, thread_id)
    for run_id in running:  # whichever replica executes it stops it, and its checkpoints
        notify(conn, f"{CANCEL}lost:{run_id}")
    return running


def _contains(document: Any, wanted: dict[str, Any]) -> bool:
    if not isinstance(document, dict):
        return not wanted
    return all(k in document and document[k] == v for k, v in wanted.items())


def _matching(conn: Conn, body: dict[str, Any]) -> list[Any]:
    where, args = ["1 = 1"], []
    if body.get("status"):
        where.append("status = ?")
        args.append(body["status"])
    if body.get("ids"):
        where.append(f"thread_id IN ({','.join('?' * len(body['ids']))})")
        args.extend(body["ids"])
    sort_by = body.get("sort_by") or "created_at"
    if sort_by not in SORTABLE:
        raise ValueError(f"sort_by must be one of {sorted(SORTABLE)}")
    order = "ASC" if (body.get("sort_order") or "desc").lower() == "asc" else "DESC"
    rows = conn.execute(
        f"SELECT * FROM lsl_threads WHERE {' AND '.join(where)} ORDER BY {sort_by} {order},"
        " thread_id",
        args,
    ).fetchall()
    metadata, values = body.get("metadata") or {}, body.get("values") or {}
    return [
        r
        for r in rows
        if _contains(loads(r["metadata"]), metadata) and _contains(loads(r["values"]), values)
    ]


def search(conn: Conn, body: dict[str, Any]) -> list[Any]:
    """Threads matching `body` (metadata and values by containment, status, ids)."""
    offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 10)
    return _matching(conn, body)[offset : offset + limit]


def count(conn: Conn, body: dict[str, Any]) -> int:
    return len(_matching(conn, body))


def copy(conn: Conn, thread_id: str) -> Any:
    """A new thread with the same metadata and the same checkpoints."""
    source = get(conn, thread_id)
    if source is None:
        return None
    new_id, now = str(uuid.uuid4()), now_ms()
    conn.execute(
        'INSERT INTO lsl_threads (thread_id, graph_id, status, metadata, "values",'
        " interrupts, error, created_at, updated_at) SELECT ?, graph_id,"
        " CASE WHEN status = 'busy' THEN 'idle' ELSE status END, metadata, \"values\","
        " interrupts, error, ?, ? FROM lsl_threads WHERE thread_id = ?",
        (new_id, now, now, thread_id),
    )
    saver_tables.copy_thread(conn, thread_id, new_id)
    return get(conn, new_id)
