"""The chaos loop with Redis among the victims: every 0.5-2 s a worker process is
killed, paused, continued or restarted, or the redis-server this test owns is
SIGKILLed (and started again on its port at a later turn), while clients read
runs' streams in segments. I1-I4 on the workers' audit, I5 on every stream."""

from __future__ import annotations

import random
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client

from tests.runs.cluster import Cluster, wait_until
from tests.runs.invariants import check, read_audit, read_worklog
from tests.runs.streams import check_resumed, read_in_segments
from tests.runs.test_failures_load import _Chaos
from tests.servers import free_port, wait_for_port

pytestmark = pytest.mark.live


class _Redis:
    """A redis-server without persistence on a fixed port, killed and restarted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.proc = subprocess.Popen(
            [*cmd, "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, self.proc)

    def toggle(self) -> None:
        if self.proc is None:
            self.start()
        else:
            self.stop()
            self.kills += 1

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


class _RedisChaos(_Chaos):
    def __init__(self, redis: _Redis, *args: Any) -> None:
        super().__init__(*args)
        self.redis = redis

    def act(self) -> None:
        if self.rng.random() < 0.25:
            self.redis.toggle()
            self.actions["redis"] = self.actions.get("redis", 0) + 1
        else:
            super().act()


def test_failures_chaos_loop_with_redis_drops_keeps_every_invariant(
    tmp_path: Path, failure_db: str
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    redis = _Redis(free_port())
    redis.start()
    env = {
        "REDIS_URI": f"redis://127.0.0.1:{redis.port}/0",
        "LSL_STEP_SECONDS": "0.1",
        "LSL_MAX_FAILURES": "20",
        "LSL_GRACE": "1",
    }
    try:
        with Cluster(tmp_path, failure_db, **env) as cluster:
            url, workers = cluster.start(3, 4)
            chaos = _RedisChaos(redis, cluster, rng, workers)
            with get_sync_client(url=url, timeout=30) as client, ThreadPoolExecutor(20) as pool:
                runs: list[tuple[str, str]] = []
                reads: list[Future[tuple[list[Any], int]]] = []
                done = threading.Event()

                def load() -> None:
                    for n in range(100):
                        if done.is_set():
                            return
                        tid = client.threads.create()["thread_id"]
                        run = client.runs.create(tid, "steps", input={}, stream_mode=["updates"])
                        runs.append((tid, run["run_id"]))
                        order = random.Random(seed + n)
                        reads.append(
                            pool.submit(read_in_segments, [client], tid, run["run_id"], order)
                        )
                        done.wait(0.1)  # spread over the chaos

                loader = threading.Thread(target=load)
                loader.start()
                started = time.monotonic()
                while time.monotonic() - started < 10 or (
                    loader.is_alive() and time.monotonic() - started < 20
                ):
                    chaos.act()
                    time.sleep(rng.uniform(0.5, 2.0))  # the pace of the chaos
                done.set()
                loader.join(timeout=60)
                chaos.heal()
                if redis.proc is None:
                    redis.start()
                created = [rid for _, rid in runs]
                wait_until(lambda: cluster.in_flight(created) == 0, 30, "the drain")
                attempts = 0
                for (tid, rid), reading in zip(runs, reads, strict=True):
                    parts, _ = reading.result(timeout=30)
                    whole = list(client.runs.join_stream(tid, rid, last_event_id="0"))
                    attempts = max(attempts, check_resumed(rid, parts, whole))
            cluster.close()
    finally:
        redis.stop()
    statuses = cluster.statuses()
    assert {statuses[r] for r in created} == {"success"}
    report = check(created, statuses, read_audit(cluster.audit), read_worklog(cluster.worklog))
    print(f"chaos with Redis (seed {seed}): actions {chaos.actions}, {redis.kills} Redis kills")
    print(f"chaos with Redis: {len(reads)} streams read in segments, up to {attempts} attempts")
    print(f"chaos with Redis: {report}")
