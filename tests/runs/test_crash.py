"""kill -9 of a server with runs in flight, then a restart on the same file; a
node that blocks the event loop, and one that kills its process (both on SQLite
and on PostgreSQL, printing what they checked).

Every run acknowledged with a 2xx reaches exactly one terminal state; a super-step
that completed before the kill is not run again (the retry resumes from its
checkpoint); the node in flight is run again at most once; the retry's events
continue the run's ids and start with a `metadata` event carrying its attempt.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from tests.runs.databases import query
from tests.runs.invariants import check, read_audit, read_worklog
from tests.servers import ROOT, free_port, wait_for_port

NODES = ("a", "b", "c")


@contextlib.contextmanager
def _server(
    env: dict[str, str], log: Path, *args: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "tests.runs.apps:app", "--port", str(port), *args]
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd + ["--host", "127.0.0.1"], cwd=ROOT, env=full_env, stdout=out, stderr=out
        )
    try:
        wait_for_port(port, proc)
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def _worklog(path: Path) -> list[tuple[str, str, str]]:
    """(run_id, node, start|end) of each line (whose pid and time are left out);
    a line being written is left for later."""
    if not path.exists():
        return []
    lines = [line.split() for line in path.read_text().splitlines()]
    return [(p[0], p[1], p[2]) for p in lines if len(p) == 5]


def _wait_until_mid_node(path: Path, deadline: float, ended_at_least: int = 4) -> None:
    """Until some steps have completed and some node is in flight."""
    while time.monotonic() < deadline:
        lines = _worklog(path)
        counts = Counter((run, node, what) for run, node, what in lines)
        ended = sum(1 for (_, _, what) in counts if what == "end")
        in_flight = any(
            what == "start" and (run, node, "end") not in counts for run, node, what in counts
        )
        if ended >= ended_at_least and in_flight:
            return
        # Watching a file another process appends to: there is no event to wait on.
        time.sleep(0.02)
    raise TimeoutError("the runs never got going")


def test_kill_9_mid_run_then_restart_finishes_every_run_once(tmp_path: Path) -> None:
    worklog = tmp_path / "worklog"
    env = {
        "LSL_RUNS_DB": str(tmp_path / "runs.db"),
        "LSL_WORKLOG": str(worklog),
        "LSL_STEP_SECONDS": "0.3",
    }
    acknowledged: list[tuple[str, str]] = []
    with (
        _server(env, tmp_path / "server.log") as (proc, url),
        get_sync_client(url=url, timeout=30) as client,
    ):
        for _ in range(5):
            tid = client.threads.create()["thread_id"]
            for _ in range(2):
                run = client.runs.create(tid, "steps", input={"steps": []})
                acknowledged.append((tid, run["run_id"]))
        _wait_until_mid_node(worklog, time.monotonic() + 60)
        proc.kill()
        proc.wait(timeout=30)
    before_kill = _worklog(worklog)

    with (
        _server(env, tmp_path / "server.log") as (_, url),
        get_sync_client(url=url, timeout=120) as client,
    ):
        for tid, run_id in acknowledged:
            client.runs.join(tid, run_id)
        runs = {run_id: client.runs.get(tid, run_id) for tid, run_id in acknowledged}
        assert {r["status"] for r in runs.values()} == {"success"}
        for tid in {tid for tid, _ in acknowledged}:
            assert client.threads.get_state(tid)["values"] == {"steps": list(NODES) * 2}
        retried = [run_id for run_id, r in runs.items() if r["attempt"] > 1]
        assert retried, "the kill landed while no run was executing"
        for tid, run_id in acknowledged:
            if run_id in retried:
                _assert_retry_events(client, tid, run_id)
    _assert_completed_steps_not_rerun(before_kill, _worklog(worklog))


def _assert_retry_events(client: SyncLangGraphClient, tid: str, run_id: str) -> None:
    parts = list(client.runs.join_stream(tid, run_id, last_event_id="0"))
    ids = [int(p.id) for p in parts]
    assert ids == sorted(set(ids))
    assert parts[-1].event == "end"
    metadata = [(i, p.data["attempt"]) for i, p in enumerate(parts) if p.event == "metadata"]
    assert [attempt for _, attempt in metadata] == [1, 2]
    assert metadata[0][0] == 0


def _assert_completed_steps_not_rerun(
    before: list[tuple[str, str, str]], after: list[tuple[str, str, str]]
) -> None:
    started_before = {(run, node) for run, node, what in before if what == "start"}
    starts = Counter((run, node) for run, node, what in after if what == "start")
    for (run, node), count in starts.items():
        successor = NODES.index(node) + 1
        next_started = successor < len(NODES) and (run, NODES[successor]) in started_before
        if next_started:
            # Its super-step's checkpoint was on disk before the next node began.
            assert count == 1, f"{node} of run {run} ran again after it completed"
        else:
            assert count <= 2, f"{node} of run {run} ran {count} times"
    assert all(count >= 1 for count in starts.values())


def test_sigterm_hands_running_runs_back_and_the_restart_resumes_them(tmp_path: Path) -> None:
    worklog = tmp_path / "worklog"
    db = tmp_path / "runs.db"
    env = {
        "LSL_RUNS_DB": str(db),
        "LSL_WORKLOG": str(worklog),
        "LSL_STEP_SECONDS": "1",
        "LSL_GRACE": "0.2",
    }
    with (
        _server(env, tmp_path / "server.log") as (proc, url),
        get_sync_client(url=url, timeout=30) as client,
    ):
        tid = client.threads.create()["thread_id"]
        run_id = client.runs.create(tid, "steps", input={"steps": []})["run_id"]
        _wait_until_mid_node(worklog, time.monotonic() + 60, ended_at_least=1)
        proc.terminate()  # a graceful stop: uvicorn runs the lifespan's shutdown
        proc.wait(timeout=30)
    before = _worklog(worklog)
    with sqlite3.connect(db) as conn:
        status, failures = conn.execute(
            "SELECT status, failures FROM lsl_runs WHERE run_id = ?", (run_id,)
        ).fetchone()
    assert (status, failures) == ("pending", 0)
    with (
        _server(env, tmp_path / "server.log") as (_, url),
        get_sync_client(url=url, timeout=60) as client,
    ):
        assert client.runs.join(tid, run_id) == {"steps": list(NODES)}
        assert client.runs.get(tid, run_id)["attempt"] == 2
    _assert_completed_steps_not_rerun(before, _worklog(worklog))


def _statuses(database: str) -> dict[str, str]:
    return dict(query(database, "SELECT run_id, status FROM lsl_runs"))


def test_a_node_blocking_the_event_loop_keeps_its_lease(tmp_path: Path, failure_db: str) -> None:
    """Two processes; the one not running the run would take it over if the
    blocked one stopped renewing its 3-second lease."""
    worklog, audit = tmp_path / "worklog", tmp_path / "audit"
    env = {
        "LSL_RUNS_DB": failure_db,
        "LSL_WORKLOG": str(worklog),
        "LSL_AUDIT": str(audit),
        "LSL_BLOCK_SECONDS": "6",
        "LSL_LEASE_TTL": "3",
        "LSL_HEARTBEAT": "0.5",
        "LSL_REAPER": "0.5",
    }
    with (
        _server(env, tmp_path / "server.log", "--workers", "2") as (_, url),
        get_sync_client(url=url, timeout=60) as client,
    ):
        tid = client.threads.create()["thread_id"]
        run_id = client.runs.create(tid, "blocking", input={"steps": []})["run_id"]
        assert client.runs.join(tid, run_id) == {"steps": ["hog"]}
        assert client.runs.get(tid, run_id)["attempt"] == 1
    assert [what for _, node, what in _worklog(worklog)] == ["start", "end"]
    report = check([run_id], _statuses(failure_db), read_audit(audit), read_worklog(worklog))
    assert (report.claims, report.reexecuted_nodes, report.finish_rejected) == (1, 0, 0)
    print(f"blocking node: the loop blocked 6 s, twice the lease; {report}")


def test_a_run_that_kills_its_worker_ends_as_an_error_after_max_failures(
    tmp_path: Path, failure_db: str
) -> None:
    """uvicorn restarts each worker the node kills; each restart finds the dead
    owner's lease at once. After three attempts the run is an error."""
    audit = tmp_path / "audit"
    env = {"LSL_RUNS_DB": failure_db, "LSL_AUDIT": str(audit), "LSL_REAPER": "0.5"}
    started = time.monotonic()
    with (
        _server(env, tmp_path / "server.log", "--workers", "2") as (_, url),
        get_sync_client(url=url, timeout=10) as client,
    ):
        tid = client.threads.create()["thread_id"]
        run_id = client.runs.create(tid, "poisoned", input={"messages": ["x"]})["run_id"]
        deadline = time.monotonic() + 120
        status = "pending"
        while status in ("pending", "running") and time.monotonic() < deadline:
            try:
                run = client.runs.get(tid, run_id)
            except httpx.TransportError:
                continue  # asked the worker that just died; the next one answers
            status = run["status"]
            # Polling the run's status: the workers dying is the point of the test.
            time.sleep(0.2)
        took = time.monotonic() - started
        assert (status, run["attempt"]) == ("error", 3)
        assert client.threads.get(tid)["status"] == "error"
        parts = list(client.runs.join_stream(tid, run_id, last_event_id="0"))
        assert [p.event for p in parts][-2:] == ["error", "end"]
        assert parts[-2].data["error"] == "WorkerLost"
    # Three claims, each by a process the node then killed, and none after.
    entries = read_audit(audit)
    report = check([run_id], _statuses(failure_db), entries, [])
    assert report.claims == 3
    assert len({e.pid for e in entries}) == 3
    assert (report.finish_ok, report.finish_rejected) == (0, 0)
    print(f"poison run: an error after 3 attempts, {took:.1f} s; {report}")
