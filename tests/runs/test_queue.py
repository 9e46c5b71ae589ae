"""The queue's database steps on a real SQLite file and a real PostgreSQL
database: fencing, one running run per thread, FIFO per thread, the reaper's
retry budget; and on PostgreSQL, claimers that skip each other's rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from langserve_like.runs import queue
from langserve_like.runs.db import Conn, Database, loads
from tests.runs.databases import fresh_postgres

Tx = Callable[[Callable[[Conn], Any]], Any]


@pytest.fixture
def postgres() -> Iterator[Database]:
    from langserve_like.runs.db_postgres import PostgresDatabase

    with fresh_postgres() as url:
        database = PostgresDatabase(url)  # migrates
        yield database
        database.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres")
        return
    from langserve_like.runs.db_sqlite import SqliteDatabase

    sqlite = SqliteDatabase(tmp_path / "runs.db")  # creates the schema
    yield sqlite
    sqlite.close()


@pytest.fixture
def tx(db: Database) -> Iterator[Tx]:
    """Run one transaction body on a connection of its own."""
    connection = db.dedicated()
    yield connection.run
    connection.close()


def _create(tx: Tx, thread: str | None = "t", **kw: Any) -> str:
    run = queue.NewRun(graph_id="g", kwargs={}, thread_id=thread, if_not_exists="create", **kw)
    row, _ = tx(lambda c: queue.insert_run(c, run))
    return str(row["run_id"])


def _claim(tx: Tx, owner: str = "w", limit: int = 10) -> list[Any]:
    rows: list[Any] = tx(lambda c: queue.claim(c, owner, 30_000, limit))
    return rows


def _expire(tx: Tx, run_id: str) -> None:
    """The lease runs out and the reaper requeues the run, retryable at once."""

    def step(conn: Conn) -> None:
        conn.execute("UPDATE lsl_runs SET lease_expires_at = 0 WHERE run_id = ?", (run_id,))
        queue.reap(conn, stream_retention_ms=3_600_000)
        conn.execute("UPDATE lsl_runs SET retry_at = NULL WHERE run_id = ?", (run_id,))

    tx(step)


def test_queue_claims_one_run_per_thread_in_creation_order(tx: Tx) -> None:
    first, second = _create(tx), _create(tx)
    other = _create(tx, thread="u")
    assert {r["run_id"] for r in _claim(tx)} == {first, other}
    assert _claim(tx) == []
    tx(lambda c: queue.finish(c, first, 1, "success"))
    assert [r["run_id"] for r in _claim(tx)] == [second]


def test_queue_index_forbids_two_running_runs_on_one_thread(db: Database, tx: Tx) -> None:
    _create(tx)
    waiting = _create(tx)
    _claim(tx)
    with pytest.raises(db.errors, match="(?i)unique"):
        tx(
            lambda c: c.execute(
                "UPDATE lsl_runs SET status = 'running' WHERE run_id = ?", (waiting,)
            )
        )


def test_queue_a_fenced_out_attempt_can_neither_finish_nor_renew(tx: Tx) -> None:
    run_id = _create(tx)
    [row] = _claim(tx, owner="a")
    assert row["attempt"] == 1
    _expire(tx, run_id)
    [again] = _claim(tx, owner="b")
    assert again["attempt"] == 2

    def finishes(conn: Conn) -> None:
        assert queue.heartbeat(conn, run_id, 1, 30_000) == (False, None)
        assert queue.finish(conn, run_id, 1, "success", output={"from": "a"})[0] is None
        assert queue.finish(conn, run_id, 2, "success", output={"from": "b"})[0] is not None

    tx(finishes)
    [(status, output)] = tx(
        lambda c: c.execute(
            "SELECT status, output FROM lsl_runs WHERE run_id = ?", (run_id,)
        ).fetchall()
    )
    assert (status, loads(output)) == ("success", {"from": "b"})


def test_queue_reaper_gives_up_after_max_failures(tx: Tx) -> None:
    run_id = _create(tx, max_failures=2)
    for _ in range(2):
        _claim(tx)
        _expire(tx, run_id)
    [(status, error)] = tx(
        lambda c: c.execute(
            "SELECT status, error FROM lsl_runs WHERE run_id = ?", (run_id,)
        ).fetchall()
    )
    assert status == "error"
    assert loads(error)["error"] == "WorkerLost"
    events = tx(
        lambda c: [r[0] for r in c.execute("SELECT event FROM lsl_run_events ORDER BY seq")]
    )
    assert events == ["error", "end"]
    assert tx(lambda c: c.execute("SELECT status FROM lsl_threads").fetchone()[0]) == "error"


def test_queue_reject_conflicts_and_idempotency_key_returns_the_first_run(tx: Tx) -> None:
    first = _create(tx, idempotency_key="k")
    assert _create(tx, idempotency_key="k") == first
    with pytest.raises(queue.Conflict):
        _create(tx, multitask_strategy="reject")


def test_queue_postgres_claimers_skip_the_runs_another_is_claiming(postgres: Database) -> None:
    first, other = postgres.dedicated(), postgres.dedicated()
    tx = first.run
    runs = {_create(tx, thread=None) for _ in range(3)}

    def claim_while_another_claims(conn: Conn) -> None:
        [mine] = queue.claim(conn, "a", 30_000, 1)  # its row stays locked until commit

        def claim_beside(beside: Conn) -> None:
            # Waiting on the first claimer's lock would fail here, not hang.
            beside.execute("SET LOCAL lock_timeout = '2s'")
            theirs = {r["run_id"] for r in queue.claim(beside, "b", 30_000, 10)}
            assert theirs == runs - {mine["run_id"]}

        other.run(claim_beside)

    try:
        tx(claim_while_another_claims)
    finally:
        first.close()
        other.close()
