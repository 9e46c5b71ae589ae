"""Stream resume at scale: 100 clients read runs in segments, each disconnecting
after a random number of events and rejoining with Last-Event-ID, half the time
on a second API replica, with Redis (a redis-server this test owns) carrying the
live events, while a worker process is SIGKILLed mid-way and restarted. I5 on
every client's segments; I1-I4 on the workers' audit."""

from __future__ import annotations

import random
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client

from tests.runs.cluster import Cluster, wait_until
from tests.runs.invariants import check, read_audit, read_worklog
from tests.runs.streams import check_resumed, read_in_segments
from tests.runs.test_redis import redis_server
from tests.servers import free_port

pytestmark = pytest.mark.live

CLIENTS = 100


def _ended(cluster: Cluster) -> int:
    return sum(w.what == "end" for w in read_worklog(cluster.worklog))


def test_failures_stream_resume_of_100_clients_across_replicas_and_a_worker_kill(
    tmp_path: Path, failure_db: str
) -> None:
    seed = random.randrange(1 << 30)
    port = free_port()
    env = {"REDIS_URI": f"redis://127.0.0.1:{port}/0", "LSL_STEP_SECONDS": "0.3"}
    with redis_server(port), Cluster(tmp_path, failure_db, **env) as cluster:
        url, workers = cluster.start(2, 8)
        other = cluster.replica()
        with get_sync_client(url=url, timeout=30) as a, get_sync_client(url=other, timeout=30) as b:
            runs = []
            for _ in range(CLIENTS // 2):
                tid = a.threads.create()["thread_id"]
                modes = ["values", "updates"]
                runs.append(
                    (tid, a.runs.create(tid, "steps", input={}, stream_mode=modes)["run_id"])
                )
            killed = threading.Event()

            def kill_one() -> None:
                wait_until(lambda: _ended(cluster) >= 15, 30, "work under way")
                cluster.send(workers[0], signal.SIGKILL)
                workers[0].wait(timeout=10)
                killed.set()
                cluster.worker(8)

            def reader(n: int) -> tuple[str, str, list[Any], int]:
                tid, rid = runs[n % len(runs)]
                parts, hops = read_in_segments([a, b], tid, rid, random.Random(seed + n))
                return tid, rid, parts, hops

            with ThreadPoolExecutor(CLIENTS // 2 + 1) as pool:
                killer = pool.submit(kill_one)
                read = list(pool.map(reader, range(CLIENTS)))
                killer.result()
            assert killed.is_set()
            attempts = connections = 0
            for tid, rid, parts, hops in read:
                whole = list(b.runs.join_stream(tid, rid, last_event_id="0"))
                attempts = max(attempts, check_resumed(rid, parts, whole))
                connections += hops
        created = [rid for _, rid in runs]
        wait_until(lambda: cluster.in_flight(created) == 0, 30, "the drain")
        cluster.close()
    report = check(
        created, cluster.statuses(), read_audit(cluster.audit), read_worklog(cluster.worklog)
    )
    print(f"stream resume (seed {seed}): {CLIENTS} clients, {connections} connections,")
    print(f"stream resume: up to {attempts} attempts in one stream; {report}")
