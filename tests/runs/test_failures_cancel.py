"""Cancels that race the run's lifecycle in a split deployment (an API server
that executes nothing, two worker processes): at claim time, mid-run, after the
finish, a rollback mid-run, and a cancel while Redis (a redis-server this test
owns) is dead, which the worker still honours from the database within a
heartbeat. Each test checks I1-I2 on the workers' audit and prints its counts."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import NotFoundError

from tests.runs.cluster import Cluster, wait_until
from tests.runs.invariants import check, read_audit, read_worklog
from tests.runs.test_redis import redis_server
from tests.servers import free_port

pytestmark = pytest.mark.live


def _status(cluster: Cluster, run_id: str) -> str | None:
    return cluster.statuses().get(run_id)


def _running(cluster: Cluster, run_id: str) -> bool:
    return _status(cluster, run_id) == "running"


def _history_runs(client: SyncLangGraphClient, thread_id: str) -> set[Any]:
    history = client.threads.get_history(thread_id, limit=100)
    return {(state.get("metadata") or {}).get("run_id") for state in history}


def test_failures_cancel_races_claim_run_finish_and_rollback(
    tmp_path: Path, failure_db: str
) -> None:
    with Cluster(tmp_path, failure_db) as cluster:
        url, _ = cluster.start(2, 8)
        with get_sync_client(url=url, timeout=30) as client:
            # At claim time: cancelled right after the create, many times over.
            early = []
            for _ in range(20):
                tid = client.threads.create()["thread_id"]
                rid = client.runs.create(tid, "slow", input={"messages": ["x"]})["run_id"]
                client.runs.cancel(tid, rid)
                early.append(rid)
            # Mid-run: once a worker executes it.
            tid = client.threads.create()["thread_id"]
            mid = client.runs.create(tid, "slow", input={"messages": ["x"]})["run_id"]
            wait_until(lambda: _running(cluster, mid), 20, "the run's claim")
            client.runs.cancel(tid, mid)
            # After the finish: a no-op, the run keeps its outcome.
            done_tid = client.threads.create()["thread_id"]
            done = client.runs.wait(done_tid, "echo", input={"messages": ["hi"]})
            finished = client.runs.list(done_tid)[0]["run_id"]
            client.runs.cancel(done_tid, finished)
            # Rollback mid-run: the run and every checkpoint it wrote go.
            rb_tid = client.threads.create()["thread_id"]
            rolled = client.runs.create(rb_tid, "slow", input={"messages": ["x"]})["run_id"]
            wait_until(lambda: _running(cluster, rolled), 20, "the run's claim")
            wait_until(lambda: rolled in _history_runs(client, rb_tid), 20, "its checkpoint")
            client.runs.cancel(rb_tid, rolled, action="rollback")
            gone = wait_until(lambda: _status(cluster, rolled) is None, 10, "the rollback")
            with pytest.raises(NotFoundError):
                client.runs.get(rb_tid, rolled)
            assert rolled not in _history_runs(client, rb_tid)
            interrupted = [*early, mid]
            wait_until(lambda: cluster.in_flight(interrupted) == 0, 20, "the cancels")
            assert done == {"messages": ["hi", "echo: hi"]}
        cluster.close()
    statuses = cluster.statuses()
    assert {statuses[r] for r in interrupted} == {"interrupted"}
    assert statuses[finished] == "success"
    audit = read_audit(cluster.audit)
    claimed_early = len({e.run_id for e in audit if e.kind == "claim" and e.run_id in early})
    report = check([*interrupted, finished], statuses, audit, read_worklog(cluster.worklog))
    # A run cancelled as it was claimed is stopped by its worker, not ended
    # behind the worker's back (whose finish would then be refused).
    assert report.finish_rejected == 0
    print(f"cancel races: {len(early)} at claim time ({claimed_early} claimed before it),")
    print(f"cancel races: 1 mid-run, 1 after finish, 1 rollback gone in {gone:.1f} s; {report}")


def test_failures_cancel_while_redis_is_dead_is_honoured_within_a_heartbeat(
    tmp_path: Path, failure_db: str
) -> None:
    port = free_port()
    env = {"REDIS_URI": f"redis://127.0.0.1:{port}/0"}
    with redis_server(port) as redis_proc, Cluster(tmp_path, failure_db, **env) as cluster:
        url, _ = cluster.start(2, 4)
        with get_sync_client(url=url, timeout=30) as client:
            tid = client.threads.create()["thread_id"]
            rid = client.runs.create(tid, "slow", input={"messages": ["x"]})["run_id"]
            wait_until(lambda: _running(cluster, rid), 20, "the run's claim")
            redis_proc.kill()  # the pub/sub cancel cannot reach the worker
            redis_proc.wait(timeout=10)
            client.runs.cancel(tid, rid)
            took = wait_until(lambda: _status(cluster, rid) == "interrupted", 10, "the cancel")
        cluster.close()
    # Heartbeat every 0.5 s: honoured at the worker's next one, plus the finish.
    assert took < 3, took
    report = check([rid], cluster.statuses(), read_audit(cluster.audit), [])
    print(f"cancel without Redis: interrupted {took:.2f} s later; {report}")


def test_failures_a_cancel_its_frozen_worker_missed_is_honoured_by_the_next_attempt(
    tmp_path: Path, failure_db: str
) -> None:
    """The cancel is recorded while the run's worker is paused (SIGSTOP), which is
    then killed: the worker that takes the run over stops it before its graph
    starts again, instead of re-running a node until its first heartbeat."""
    with Cluster(tmp_path, failure_db, LSL_STEP_SECONDS="2") as cluster:
        url, (first,) = cluster.start(1, 2)
        with get_sync_client(url=url, timeout=30) as client:
            tid = client.threads.create()["thread_id"]
            rid = client.runs.create(tid, "steps", input={"steps": []})["run_id"]
            wait_until(lambda: len(read_worklog(cluster.worklog)) > 0, 20, "the first node")
            cluster.send(first, signal.SIGSTOP)
            client.runs.cancel(tid, rid)  # recorded on the run: its worker is frozen
            cluster.send(first, signal.SIGKILL)
            first.wait(timeout=10)
            second = cluster.worker(2)
            took = wait_until(lambda: _status(cluster, rid) == "interrupted", 20, "the cancel")
        cluster.close()
    work = read_worklog(cluster.worklog)
    assert [(w.pid, w.node, w.what) for w in work] == [(first.pid, "a", "start")]
    report = check([rid], cluster.statuses(), read_audit(cluster.audit), work)
    assert report.finish_rejected == 0
    print(f"cancel missed by a frozen worker: interrupted {took:.2f} s after the second")
    print(f"worker started, by pid {second.pid}, without running a node; {report}")
