"""The few steps that reach into LangGraph's checkpoint tables, inside our own
transactions: their names and columns differ between the SQLite saver
(`checkpoints`, `writes`) and the PostgreSQL one (`checkpoints`,
`checkpoint_writes`, `checkpoint_blobs`)."""

from __future__ import annotations

from langserve_like.runs.db import Conn, sql

__all__ = ["copy_thread", "delete_run", "delete_thread"]


def _writes(conn: Conn) -> str:
    return "writes" if conn.dialect == "sqlite" else "checkpoint_writes"


def delete_run(conn: Conn, thread_id: str, run_id: str) -> None:
    """The checkpoints (and their pending writes) a run wrote on its thread. On
    PostgreSQL, channel values the run alone wrote stay in `checkpoint_blobs`
    (they are keyed by channel version, not by checkpoint) until the thread goes."""
    mine = f"{sql(conn, 'run_id_of')} = ?"
    conn.execute(
        f"DELETE FROM {_writes(conn)} WHERE thread_id = ? AND checkpoint_id IN (SELECT"
        f" checkpoint_id FROM checkpoints WHERE thread_id = ? AND {mine})",
        (thread_id, thread_id, run_id),
    )
    conn.execute(f"DELETE FROM checkpoints WHERE thread_id = ? AND {mine}", (thread_id, run_id))


def delete_thread(conn: Conn, thread_id: str) -> None:
    conn.execute(f"DELETE FROM {_writes(conn)} WHERE thread_id = ?", (thread_id,))
    conn.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,))
    if conn.dialect == "postgres":
        conn.execute("DELETE FROM checkpoint_blobs WHERE thread_id = ?", (thread_id,))


def copy_thread(conn: Conn, source: str, target: str) -> None:
    """The source thread's checkpoints, as the target thread's."""
    conn.execute(
        "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,"
        " parent_checkpoint_id, type, checkpoint, metadata) SELECT ?, checkpoint_ns,"
        " checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints"
        " WHERE thread_id = ?",
        (target, source),
    )
    value = "value" if conn.dialect == "sqlite" else "blob"
    conn.execute(
        f"INSERT INTO {_writes(conn)} (thread_id, checkpoint_ns, checkpoint_id, task_id,"
        f" task_path, idx, channel, type, {value}) SELECT ?, checkpoint_ns, checkpoint_id,"
        f" task_id, task_path, idx, channel, type, {value} FROM {_writes(conn)}"
        " WHERE thread_id = ?",
        (target, source),
    )
    if conn.dialect == "postgres":
        conn.execute(
            "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type,"
            " blob) SELECT ?, checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs"
            " WHERE thread_id = ?",
            (target, source),
        )
