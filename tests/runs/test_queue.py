"""The queue's database steps on a real SQLite file: fencing, one running run per
thread, FIFO per thread, the reaper's retry budget."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from langserve_like.runs import queue
from langserve_like.runs.db import Database, connect, transaction


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    Database(tmp_path / "runs.db").close()  # creates the schema
    connection = connect(tmp_path / "runs.db")
    yield connection
    connection.close()


def _create(conn: sqlite3.Connection, thread: str | None = "t", **kw: object) -> str:
    run = queue.NewRun(graph_id="g", kwargs={}, thread_id=thread, if_not_exists="create", **kw)
    with transaction(conn):
        row, _ = queue.insert_run(conn, run)
    return str(row["run_id"])


def _claim(conn: sqlite3.Connection, owner: str = "w", limit: int = 10) -> list[sqlite3.Row]:
    with transaction(conn):
        return queue.claim(conn, owner, 30_000, limit)


def test_queue_claims_one_run_per_thread_in_creation_order(conn: sqlite3.Connection) -> None:
    first, second = _create(conn), _create(conn)
    other = _create(conn, thread="u")
    assert {r["run_id"] for r in _claim(conn)} == {first, other}
    assert _claim(conn) == []
    with transaction(conn):
        queue.finish(conn, first, 1, "success")
    assert [r["run_id"] for r in _claim(conn)] == [second]


def test_queue_index_forbids_two_running_runs_on_one_thread(conn: sqlite3.Connection) -> None:
    _create(conn)
    waiting = _create(conn)
    _claim(conn)
    with pytest.raises(sqlite3.IntegrityError), transaction(conn):
        conn.execute("UPDATE lsl_runs SET status = 'running' WHERE run_id = ?", (waiting,))


def test_queue_a_fenced_out_attempt_can_neither_finish_nor_renew(conn: sqlite3.Connection) -> None:
    run_id = _create(conn)
    [row] = _claim(conn, owner="a")
    assert row["attempt"] == 1
    with transaction(conn):  # the lease runs out
        conn.execute("UPDATE lsl_runs SET lease_expires_at = 0 WHERE run_id = ?", (run_id,))
        queue.reap(conn, stream_retention_ms=3_600_000)
        conn.execute("UPDATE lsl_runs SET retry_at = NULL WHERE run_id = ?", (run_id,))
    [again] = _claim(conn, owner="b")
    assert again["attempt"] == 2
    with transaction(conn):
        assert queue.heartbeat(conn, run_id, 1, 30_000) == (False, None)
        assert queue.finish(conn, run_id, 1, "success", output={"from": "a"}) is None
        assert queue.finish(conn, run_id, 2, "success", output={"from": "b"}) is not None
    status, output = conn.execute(
        "SELECT status, output FROM lsl_runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    assert (status, output) == ("success", '{"from":"b"}')


def test_queue_reaper_gives_up_after_max_failures(conn: sqlite3.Connection) -> None:
    run_id = _create(conn, max_failures=2)
    for _ in range(2):
        _claim(conn)
        with transaction(conn):
            conn.execute("UPDATE lsl_runs SET lease_expires_at = 0 WHERE run_id = ?", (run_id,))
            queue.reap(conn, stream_retention_ms=3_600_000)
            conn.execute("UPDATE lsl_runs SET retry_at = NULL WHERE run_id = ?", (run_id,))
    status, error = conn.execute(
        "SELECT status, error FROM lsl_runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    assert status == "error"
    assert "WorkerLost" in error
    events = [r[0] for r in conn.execute("SELECT event FROM lsl_run_events ORDER BY seq")]
    assert events == ["error", "end"]
    assert conn.execute("SELECT status FROM lsl_threads").fetchone()[0] == "error"


def test_queue_reject_conflicts_and_idempotency_key_returns_the_first_run(
    conn: sqlite3.Connection,
) -> None:
    first = _create(conn, idempotency_key="k")
    assert _create(conn, idempotency_key="k") == first
    with pytest.raises(queue.Conflict):
        _create(conn, multitask_strategy="reject")
