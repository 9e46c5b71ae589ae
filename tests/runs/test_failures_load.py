"""Many runs, several worker processes racing for them, and a bounded chaos loop
that kills, pauses and restarts workers, in a split deployment on one runs
database. The invariants are checked on the workers' audit (tests/runs/
invariants.py); each test prints what it counted.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.runs.cluster import Cluster, query, wait_until
from tests.runs.invariants import NODES, check, execution_order, read_audit, read_worklog

pytestmark = pytest.mark.live


def _create(url: str, thread_id: str, **extra: Any) -> dict[str, Any]:
    body = {"assistant_id": "steps", "input": {"steps": []}, "multitask_strategy": "enqueue"}
    response = httpx.post(f"{url}/threads/{thread_id}/runs", json=body, timeout=60, **extra)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _new_thread(url: str) -> str:
    response = httpx.post(f"{url}/threads", json={}, timeout=30)
    response.raise_for_status()
    return str(response.json()["thread_id"])


def _values(url: str, thread_id: str) -> Any:
    return httpx.get(f"{url}/threads/{thread_id}/state", timeout=30).json()["values"]


def test_failures_claim_race_keeps_each_thread_in_creation_order(
    tmp_path: Path, failure_db: str
) -> None:
    with Cluster(tmp_path, failure_db) as cluster:
        url, _ = cluster.start(4, 4)  # four worker processes race for every run
        busy = _new_thread(url)
        threads = [_new_thread(url) for _ in range(20)]
        targets = [busy] * 30 + [tid for tid in threads for _ in range(5)]
        random.shuffle(targets)
        began = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            created = [r["run_id"] for r in pool.map(lambda t: _create(url, t), targets)]
        creating = time.monotonic() - began
        drained = wait_until(lambda: cluster.in_flight(created) == 0, 45, "the drain")
        assert _values(url, busy) == {"steps": list(NODES) * 30}
        assert {str(_values(url, t)) for t in threads} == {str({"steps": list(NODES) * 5})}
        cluster.close()
    queued = query(
        cluster.database, "SELECT thread_id, run_id FROM lsl_runs ORDER BY available_at, run_id"
    )
    creation: dict[str, list[str]] = {}
    for thread_id, run_id in queued:
        if thread_id in targets:  # the database may be shared with other tests
            creation.setdefault(thread_id, []).append(run_id)
    audit = read_audit(cluster.audit)
    assert execution_order(audit) == creation
    report = check(created, cluster.statuses(), audit, read_worklog(cluster.worklog))
    assert report.retried_runs == 0
    claimers = {e.pid for e in audit if e.kind == "claim"}
    assert len(claimers) == 4, "a worker took no part in the race"
    # The processes that took turns on the thread of 30 runs.
    on_busy = {e.pid for e in audit if e.kind == "claim" and e.thread_id == busy}
    print(f"claim race: created in {creating:.1f} s, drained {drained:.1f} s later")
    print(f"claim race: {len(claimers)} workers ({len(on_busy)} on the thread of 30 runs),")
    print(f"claim race: {len(creation)} threads in creation order; {report}")


def test_failures_concurrent_creates_with_one_idempotency_key_make_one_run(
    tmp_path: Path,
    failure_db: str,
) -> None:
    with Cluster(tmp_path, failure_db) as cluster:
        url, _ = cluster.start(1, 4, processes=2)  # the retries land on both API processes
        thread_id = _new_thread(url)
        headers = {"Idempotency-Key": "retry-of-one-create"}
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda _: _create(url, thread_id, headers=headers), range(10)))
        run_ids = {a["run_id"] for a in answers}
        assert len(run_ids) == 1
        wait_until(lambda: cluster.in_flight(list(run_ids)) == 0, 30, "the run")
        assert _values(url, thread_id) == {"steps": list(NODES)}
        cluster.close()
    sql = "SELECT run_id, status FROM lsl_runs WHERE thread_id = ?"
    rows = query(cluster.database, sql, thread_id)
    assert rows == [(run_ids.pop(), "success")]
    audit = read_audit(cluster.audit)
    assert [e.kind for e in audit] == ["claim", "finishing", "finish_ok"]
    executions = sum(e.kind == "claim" for e in audit)
    print(f"idempotency: 10 concurrent creates, {len(rows)} run, {executions} execution")


class _Chaos:
    """Random SIGKILL, SIGSTOP, SIGCONT and restarts of worker processes."""

    def __init__(
        self, cluster: Cluster, rng: random.Random, workers: list[subprocess.Popen[bytes]]
    ) -> None:
        self.cluster = cluster
        self.rng = rng
        self.size = len(workers)
        self.workers = workers
        self.actions: dict[str, int] = {}

    def act(self) -> None:
        alive = [w for w in self.workers if w.poll() is None]
        action = self.rng.choice(["kill", "stop", "cont", "restart"])
        victim = self.rng.choice(alive) if alive else None
        if victim is not None and action == "kill":
            self.cluster.send(victim, signal.SIGKILL)
            victim.wait(timeout=10)
        elif victim is not None and action == "stop":
            self.cluster.send(victim, signal.SIGSTOP)
        elif action == "cont":
            for proc in alive:
                if proc.pid in self.cluster.stopped:
                    self.cluster.send(proc, signal.SIGCONT)
        elif victim is not None:
            self.cluster.send(victim, signal.SIGCONT)
            victim.terminate()  # drains: hands its runs back
            victim.wait(timeout=30)
        self.actions[action] = self.actions.get(action, 0) + 1
        self.heal(keep_one=True)

    def heal(self, *, keep_one: bool = False) -> None:
        """Continue the paused, replace the dead; with `keep_one`, only as much as
        keeps one worker executing."""
        healthy = [
            w for w in self.workers if w.poll() is None and w.pid not in self.cluster.stopped
        ]
        if keep_one and healthy:
            return
        for proc in self.workers:
            if proc.poll() is None:
                self.cluster.send(proc, signal.SIGCONT)
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < self.size:
            self.workers.append(self.cluster.worker(4, wait=False))


def test_failures_chaos_loop_keeps_every_invariant(tmp_path: Path, failure_db: str) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    env = {"LSL_STEP_SECONDS": "0.1", "LSL_MAX_FAILURES": "20", "LSL_GRACE": "1"}
    with Cluster(tmp_path, failure_db, **env) as cluster:
        url, workers = cluster.start(3, 4)
        chaos = _Chaos(cluster, rng, workers)
        threads = [_new_thread(url) for _ in range(30)]
        created: list[str] = []
        done = threading.Event()

        def load() -> None:
            for n in range(150):
                if done.is_set():
                    return
                created.append(_create(url, threads[n % len(threads)])["run_id"])
                done.wait(0.05)  # spread over the chaos

        loader = threading.Thread(target=load)
        loader.start()
        # While the runs come in, at least 10 s and at most 20 s.
        started = time.monotonic()
        while time.monotonic() - started < 10 or (
            loader.is_alive() and time.monotonic() - started < 20
        ):
            chaos.act()
            time.sleep(rng.uniform(0.5, 2.0))  # the pace of the chaos, not synchronisation
        done.set()
        loader.join(timeout=60)
        chaos.heal()
        drained = wait_until(lambda: cluster.in_flight(created) == 0, 30, "the drain")
        cluster.close()
    statuses = cluster.statuses()
    assert {statuses[r] for r in created} == {"success"}
    report = check(created, statuses, read_audit(cluster.audit), read_worklog(cluster.worklog))
    print(f"chaos (seed {seed}): actions {chaos.actions}, drained in {drained:.1f} s")
    print(f"chaos: {report}")
