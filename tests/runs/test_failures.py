"""Worker processes that die, freeze or are stopped, in a split deployment: an
API server that executes nothing and two `langserve-like worker` processes on
one runs database. Each test checks the queue's invariants (tests/runs/
invariants.py) on the audit the workers wrote, and prints what it counted.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client

from tests.runs.cluster import Cluster, query, wait_until
from tests.runs.invariants import NODES, Entry, check, read_audit, read_worklog

pytestmark = pytest.mark.live


def _in_flight_nodes(cluster: Cluster, pid: int) -> int:
    """Nodes `pid` has started and not ended."""
    counts = Counter(
        (w.run_id, w.node, w.what) for w in read_worklog(cluster.worklog) if w.pid == pid
    )
    return sum(
        1 for (run, node, what) in counts if what == "start" and (run, node, "end") not in counts
    )


def _ended_nodes(cluster: Cluster, pid: int | None = None) -> int:
    return sum(w.what == "end" and pid in (None, w.pid) for w in read_worklog(cluster.worklog))


def test_failures_kill_9_of_one_worker_the_other_finishes_every_run(
    tmp_path: Path, failure_db: str
) -> None:
    with Cluster(tmp_path, failure_db, LSL_STEP_SECONDS="0.3") as cluster:
        url, workers = cluster.start(2, 8)
        with get_sync_client(url=url, timeout=30) as client:
            threads = [client.threads.create()["thread_id"] for _ in range(25)]
            created = [
                client.runs.create(tid, "steps", input={"steps": []})["run_id"]
                for _ in range(2)
                for tid in threads
            ]
            victim = workers[0]
            wait_until(
                lambda: _ended_nodes(cluster) >= 10 and _in_flight_nodes(cluster, victim.pid) > 0,
                30,
                "work in flight on the first worker",
            )
            victim.kill()
            victim.wait(timeout=10)
            killed_at = time.monotonic()
            recovery = wait_until(lambda: cluster.in_flight(created) == 0, 45, "the drain")
            for tid in threads:
                assert client.threads.get_state(tid)["values"] == {"steps": list(NODES) * 2}
        # The survivor notices the dead owner at its next reap (same host), or at
        # the latest when the lease expires: lease + reaper, plus the work left.
        assert recovery < 3 + 0.5 + 15
        cluster.close()
    statuses = {run_id: status for run_id, status in cluster.statuses().items()}
    assert {statuses[r] for r in created} == {"success"}
    audit = read_audit(cluster.audit)
    lost = _claimed_by_before(audit, victim.pid, killed_at)
    report = check(created, statuses, audit, read_worklog(cluster.worklog))
    assert report.retried_runs >= 1, "the kill landed while the worker executed nothing"
    assert len(lost) == report.retried_runs
    print(f"kill -9: the killed worker held {len(lost)} runs; all done {recovery:.1f} s later")
    print(f"kill -9: {report}")


def _claimed_by_before(audit: list[Entry], pid: int, at: float) -> set[str]:
    """The runs `pid` was executing when it was killed at `at`."""
    claimed = {e.run_id for e in audit if e.kind == "claim" and e.pid == pid and e.at < at}
    done = {e.run_id for e in audit if e.kind == "finish_ok" and e.pid == pid}
    return claimed - done


def test_failures_a_paused_worker_loses_its_run_and_its_late_finish_is_rejected(
    tmp_path: Path,
    failure_db: str,
) -> None:
    """SIGSTOP past the lease: the reaper hands the run to the other worker, which
    finishes it; the paused worker, continued, writes nothing of its own."""
    with Cluster(tmp_path, failure_db, LSL_STEP_SECONDS="1") as cluster:
        url, [zombie] = cluster.start(1, 4)
        with get_sync_client(url=url, timeout=30) as client:
            threads = [client.threads.create()["thread_id"] for _ in range(3)]
            created = [
                client.runs.create(tid, "steps", input={"steps": []})["run_id"] for tid in threads
            ]
            wait_until(
                lambda: (
                    _ended_nodes(cluster, zombie.pid) >= 3
                    and _in_flight_nodes(cluster, zombie.pid) >= 3
                ),
                30,
                "the first worker mid-run",
            )
            cluster.send(zombie, signal.SIGSTOP)
            stopped_at = time.monotonic()
            survivor = cluster.worker(4)
            wait_until(lambda: cluster.in_flight(created) == 0, 45, "the drain")
            paused_for = time.monotonic() - stopped_at
            cluster.send(zombie, signal.SIGCONT)
            # Its heartbeat finds the leases gone (or its late checkpoint or finish
            # is refused): it stops each run, writing nothing.
            wait_until(
                lambda: (
                    sum(map(cluster.log(zombie).count, ("lost its lease", "lease_lost")))
                    >= len(created)
                ),
                30,
                "the lost leases",
            )
            for tid in threads:
                # No late checkpoint of the paused worker forked the thread's state.
                state = client.threads.get_state(tid)
                assert (state["values"], state["next"]) == ({"steps": list(NODES)}, [])
        cluster.close()
    zombie_log = cluster.log(zombie)
    assert paused_for > 3, "paused for less than a lease"
    assert zombie.returncode == 0
    statuses = cluster.statuses()
    assert {statuses[r] for r in created} == {"success"}
    audit = read_audit(cluster.audit)
    oks = [e for e in audit if e.kind == "finish_ok"]
    assert {e.pid for e in oks} == {survivor.pid}
    assert Counter(e.run_id for e in oks) == Counter(created)
    late = [e for e in audit if e.pid == zombie.pid and e.kind == "finish_rejected"]
    report = check(created, statuses, audit, read_worklog(cluster.worklog))
    refused = zombie_log.count("late_checkpoint_refused")
    print(f"zombie: paused {paused_for:.1f} s; late writes refused: {len(late)} finishes,")
    print(f"zombie: {refused} checkpoints; {report}")


def test_failures_sigterm_drains_a_worker_and_the_other_resumes_its_runs(
    tmp_path: Path,
    failure_db: str,
) -> None:
    with Cluster(tmp_path, failure_db, LSL_STEP_SECONDS="1.5") as cluster:
        url, workers = cluster.start(2, 4, "--grace", "0.2")
        with get_sync_client(url=url, timeout=30) as client:
            threads = [client.threads.create()["thread_id"] for _ in range(4)]
            created = [
                client.runs.create(tid, "steps", input={"steps": []})["run_id"] for tid in threads
            ]
            # Every run past its first super-step, in the middle of the second.
            wait_until(
                lambda: _ended_nodes(cluster) >= 4 and sum(map(_busy(cluster), workers)) >= 4,
                30,
                "the runs mid-run",
            )
            draining, other = sorted(workers, key=_busy(cluster), reverse=True)
            held = _claimed_by_before(read_audit(cluster.audit), draining.pid, time.monotonic())
            draining.terminate()
            draining.wait(timeout=20)
            assert draining.returncode == 0, cluster.log(draining)
            wait_until(lambda: cluster.in_flight(created) == 0, 30, "the drain")
            for tid in threads:
                assert client.threads.get_state(tid)["values"] == {"steps": list(NODES)}
        cluster.close()
    statuses = cluster.statuses()
    assert {statuses[r] for r in created} == {"success"}
    failures = _failures(cluster, created)
    assert failures == [0] * len(created), "a graceful hand-back counted as a failure"
    audit = read_audit(cluster.audit)
    released = {(e.run_id, e.attempt, e.pid) for e in audit if e.kind == "release"}
    assert held
    assert released == {(r, 1, draining.pid) for r in held}
    finished = {(e.run_id, e.attempt, e.pid) for e in audit if e.kind == "finish_ok"}
    assert {f for f in finished if f[0] in held} == {(r, 2, other.pid) for r in held}
    work = read_worklog(cluster.worklog)
    assert Counter(w.node for w in work if w.what == "start")["a"] == len(created), "a re-ran"
    report = check(created, statuses, audit, work)
    print(f"drain: {len(released)} runs handed back, failures {failures}; {report}")


def _busy(cluster: Cluster) -> Callable[[subprocess.Popen[bytes]], int]:
    return lambda proc: _in_flight_nodes(cluster, proc.pid)


def _failures(cluster: Cluster, run_ids: list[str]) -> list[int]:
    rows = dict(query(cluster.database, "SELECT run_id, failures FROM lsl_runs"))
    return [int(rows[r]) for r in run_ids]
