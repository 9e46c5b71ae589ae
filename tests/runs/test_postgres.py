"""Several engines on one PostgreSQL database, as replicas of one app run.

An API-only replica (`workers=0`) and a worker replica share the queue: runs
created on one execute on the other, and waits, cancels and rollbacks cross
between them through the database's wake-ups (LISTEN/NOTIFY), not its polling:
the safety-net poll is set to a minute, longer than any test waits. Replicas that
start at once migrate the empty database once; `/ok?check_db=1` answers 503 once
the database has gone.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.runs.databases import drop_postgres, fresh_postgres, query
from tests.servers import ROOT, run_uvicorn

APP = "tests.runs.apps:app"
SLOW_POLL = "60"  # seconds: a wake-up that only the poll delivered would come too late
WOKEN_WITHIN = 15.0  # seconds: far below the poll, far above a run's time on a loaded box


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def shared() -> Iterator[str]:
    """The replicas' database."""
    with fresh_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def replicas(shared: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(API-only replica, worker replica) URLs."""
    logs = tmp_path_factory.mktemp("replicas")
    # A cancel the heartbeat (19 s) found instead of the wake-up would come too late too.
    env = {"LSL_RUNS_DB": shared, "LSL_POLL": SLOW_POLL, "LSL_HEARTBEAT": "19"}
    with (
        run_uvicorn(APP, env={**env, "LSL_WORKERS": "0"}, log_path=logs / "api.log") as api,
        run_uvicorn(APP, env=env, log_path=logs / "worker.log") as worker,
    ):
        yield api, worker


def _until(condition: object, deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)  # polling a condition with a deadline


def test_postgres_a_run_created_on_the_api_replica_runs_on_the_worker(
    replicas: tuple[str, str], shared: str
) -> None:
    api, worker = replicas
    with get_sync_client(url=api, timeout=15) as client:
        thread = client.threads.create()["thread_id"]
        started = time.monotonic()
        out = client.runs.wait(thread, "echo", input={"messages": ["hi"]})
        assert out == {"messages": ["hi", "echo: hi"]}
        assert time.monotonic() - started < WOKEN_WITHIN
        [run] = client.runs.list(thread)
        parts = list(client.runs.join_stream(thread, run["run_id"], last_event_id="0"))
        assert [p.event for p in parts][0] == "metadata"
        assert parts[-1].event == "end"
        started = time.monotonic()
        stateless = client.runs.wait(None, "upper", input="abc")
        assert time.monotonic() - started < WOKEN_WITHIN
    assert stateless == "ABC"
    owners = query(shared, "SELECT lease_owner, attempt FROM lsl_runs WHERE status = 'success'")
    assert owners == [(None, 1), (None, 1)]  # executed once each, the lease released
    with httpx.Client(base_url=worker) as http:
        assert http.get("/info").json()["host"]["runs"] == "postgres"


def test_postgres_cancel_and_rollback_cross_replicas(
    replicas: tuple[str, str], shared: str
) -> None:
    api, _ = replicas
    with get_sync_client(url=api, timeout=15) as client:
        thread = client.threads.create()["thread_id"]
        run = client.runs.create(thread, "slow", input={"messages": ["x"]})
        mine = "SELECT count(*) FROM checkpoints WHERE metadata->>'run_id' = ?"
        _until(lambda: query(shared, mine, (run["run_id"],))[0][0] > 0)
        _until(lambda: client.runs.get(thread, run["run_id"])["status"] == "running")
        # The worker replica hears the cancel at once, not at its next heartbeat.
        started = time.monotonic()
        client.runs.cancel(thread, run["run_id"], wait=True, action="rollback")
        assert time.monotonic() - started < WOKEN_WITHIN
        assert query(shared, mine, (run["run_id"],)) == [(0,)]
        gone = "SELECT count(*) FROM lsl_runs WHERE run_id = ?"
        assert query(shared, gone, (run["run_id"],)) == [(0,)]

        second = client.runs.create(thread, "slow", input={"messages": ["y"]})
        _until(lambda: client.runs.get(thread, second["run_id"])["status"] == "running")
        client.runs.cancel(thread, second["run_id"], wait=True)
        assert client.runs.get(thread, second["run_id"])["status"] == "interrupted"


_START_ENGINE = """
import asyncio, os, sys, time
from langserve_like.runs.engine import Engine
from langserve_like.runs.options import Runs

gate = sys.argv[2]
deadline = time.monotonic() + 60
while not os.path.exists(gate) and time.monotonic() < deadline:
    time.sleep(0.01)  # all four start migrating together

async def main():
    engine = Engine(Runs(database=sys.argv[1], workers=1))
    await engine.start()
    await engine.stop()

asyncio.run(main())
"""


def test_postgres_replicas_starting_at_once_migrate_once(database: str, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _START_ENGINE, database, str(gate)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(4)
    ]
    gate.touch()
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    assert query(database, "SELECT v, count(*) FROM lsl_schema_version GROUP BY v") == [(1, 1)]
    checkpoint_versions = query(
        database, "SELECT count(*), count(DISTINCT v) FROM checkpoint_migrations"
    )
    assert checkpoint_versions[0][0] == checkpoint_versions[0][1] > 0


def test_postgres_ok_answers_503_once_the_database_is_gone(database: str, tmp_path: Path) -> None:
    with (
        run_uvicorn(APP, env={"LSL_RUNS_DB": database}, log_path=tmp_path / "s.log") as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        healthy = http.get("/ok", params={"check_db": 1})
        assert healthy.status_code == 200
        assert healthy.json()["ok"] is True
        drop_postgres(database)
        gone = http.get("/ok", params={"check_db": 1})
        assert gone.status_code == 503
        assert gone.json()["ok"] is False
        assert gone.json()["services"]["database"] == "unhealthy"


def test_postgres_tests_fail_in_ci_when_postgres_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.runs import databases

    monkeypatch.setattr(databases, "PG_ROOT", "postgresql://postgres@127.0.0.1:1")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="pg_ctlcluster"):
        databases.require_postgres()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="pg_ctlcluster"):
        databases.require_postgres()


def test_postgres_kill_9_of_one_replica_the_other_finishes_its_runs(
    database: str, tmp_path: Path
) -> None:
    from tests.runs.test_crash import (
        _assert_completed_steps_not_rerun,
        _assert_retry_events,
        _server,
        _wait_until_mid_node,
        _worklog,
    )

    worklog = tmp_path / "worklog"
    env = {
        "LSL_RUNS_DB": database,
        "LSL_WORKLOG": str(worklog),
        "LSL_STEP_SECONDS": "0.3",
        "LSL_REAPER": "0.5",
    }
    acknowledged: list[tuple[str, str]] = []
    with (
        _server(env, tmp_path / "doomed.log") as (doomed, doomed_url),
        _server(env, tmp_path / "survivor.log") as (_, url),
        get_sync_client(url=url, timeout=120) as survivor,
    ):
        with get_sync_client(url=doomed_url, timeout=30) as client:
            for _ in range(5):  # created on the doomed replica, which claims them itself
                tid = client.threads.create()["thread_id"]
                for _ in range(2):
                    run = client.runs.create(tid, "steps", input={"steps": []})
                    acknowledged.append((tid, run["run_id"]))
        _wait_until_mid_node(worklog, time.monotonic() + 60)
        doomed.kill()
        doomed.wait(timeout=30)
        before_kill = _worklog(worklog)
        for tid, run_id in acknowledged:
            survivor.runs.join(tid, run_id)
        runs = {run_id: survivor.runs.get(tid, run_id) for tid, run_id in acknowledged}
        assert {r["status"] for r in runs.values()} == {"success"}
        for tid in {tid for tid, _ in acknowledged}:
            assert survivor.threads.get_state(tid)["values"] == {"steps": ["a", "b", "c"] * 2}
        retried = [run_id for run_id, r in runs.items() if r["attempt"] > 1]
        assert retried, "the kill landed while the doomed replica executed nothing"
        for tid, run_id in acknowledged:
            if run_id in retried:
                _assert_retry_events(survivor, tid, run_id)
    _assert_completed_steps_not_rerun(before_kill, _worklog(worklog))


def test_postgres_is_chosen_by_database_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    from langserve_like import Runs

    monkeypatch.setenv("DATABASE_URI", "postgres+psycopg://app@db:5432/runs")
    assert Runs().postgres_url() == "postgresql://app@db:5432/runs"
    assert Runs(database="./here.db").postgres_url() is None  # the argument wins
    monkeypatch.setenv("DATABASE_URI", "mysql://app@db/other")  # the app's own database
    assert Runs().postgres_url() is None
