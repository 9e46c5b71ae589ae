"""The chaos loop with Redis among the victims: every 0.5-2 s a worker process is
killed, paused, continued or restarted, or the redis-server this test owns is
SIGKILLed (and started again on its port at a later turn), while clients read
runs' streams in segments; and Redis down for 20 s under such a load. I1-I4 on
the workers' audit, I5 on every stream."""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

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


class _StreamedLoad:
    """Runs created one after another, each on a thread of its own, and each read
    in segments (`read_in_segments`) by a client as it executes; in the background
    until `stop` or `limit` runs. A create that fails fails the test (at `stop`)."""

    def __init__(
        self,
        client: SyncLangGraphClient,
        pool: ThreadPoolExecutor,
        seed: int,
        pace: float,
        limit: int = 1000,
    ) -> None:
        self.client, self.pool, self.seed, self.pace = client, pool, seed, pace
        self.limit = limit
        self.runs: list[tuple[str, str]] = []
        self.reads: list[Future[tuple[list[Any], int]]] = []
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._load)

    def _load(self) -> None:
        try:
            for n in range(self.limit):
                if self.done.is_set():
                    return
                tid = self.client.threads.create()["thread_id"]
                run = self.client.runs.create(tid, "steps", input={}, stream_mode=["updates"])
                self.runs.append((tid, run["run_id"]))
                order = random.Random(self.seed + n)
                read = self.pool.submit(read_in_segments, [self.client], tid, run["run_id"], order)
                self.reads.append(read)
                self.done.wait(self.pace)  # the pace of the load
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> _StreamedLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[str]:
        """Stop creating; the runs created."""
        self.done.set()
        self.thread.join(timeout=60)
        if self.error is not None:
            raise self.error
        return [rid for _, rid in self.runs]

    def check_streams(self) -> int:
        """I5 on every run's segments; the most attempts a stream showed."""
        attempts = 0
        for (tid, rid), reading in zip(self.runs, self.reads, strict=True):
            parts, _ = reading.result(timeout=60)
            whole = list(self.client.runs.join_stream(tid, rid, last_event_id="0"))
            attempts = max(attempts, check_resumed(rid, parts, whole))
        return attempts


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
            with (
                get_sync_client(url=url, timeout=30) as client,
                ThreadPoolExecutor(20) as pool,
                _StreamedLoad(client, pool, seed, 0.1, limit=100) as load,
            ):
                started = time.monotonic()
                while time.monotonic() - started < 10 or (
                    load.thread.is_alive() and time.monotonic() - started < 20
                ):
                    chaos.act()
                    time.sleep(rng.uniform(0.5, 2.0))  # the pace of the chaos
                created = load.stop()
                chaos.heal()
                if redis.proc is None:
                    redis.start()
                wait_until(lambda: cluster.in_flight(created) == 0, 30, "the drain")
                attempts = load.check_streams()
            cluster.close()
    finally:
        redis.stop()
    statuses = cluster.statuses()
    assert {statuses[r] for r in created} == {"success"}
    report = check(created, statuses, read_audit(cluster.audit), read_worklog(cluster.worklog))
    print(f"chaos with Redis (seed {seed}): actions {chaos.actions}, {redis.kills} Redis kills")
    print(f"chaos with Redis: {len(created)} streams read in segments, up to {attempts} attempts")
    print(f"chaos with Redis: {report}")


def _redis_health(url: str) -> str:
    return str(httpx.get(f"{url}/ok", timeout=10).json()["services"]["redis"])


def test_failures_redis_down_20_s_under_load_loses_no_run_and_no_event(
    tmp_path: Path, failure_db: str
) -> None:
    """Redis hangs for 10 s (SIGSTOP: its connections stay open, nothing answers),
    then is gone for 10 s (SIGKILL: connections refused), while runs are created
    and streamed; a fresh redis-server then starts on its port. Every run
    acknowledged ends once, as a success, and every stream is whole."""
    seed = random.randrange(1 << 30)
    redis = _Redis(free_port())
    redis.start()
    env = {"REDIS_URI": f"redis://127.0.0.1:{redis.port}/0", "LSL_STEP_SECONDS": "0.1"}
    try:
        with Cluster(tmp_path, failure_db, **env) as cluster:
            url, _ = cluster.start(2, 4)
            with (
                get_sync_client(url=url, timeout=30) as client,
                ThreadPoolExecutor(20) as pool,
                _StreamedLoad(client, pool, seed, 0.15) as load,
            ):
                wait_until(lambda: len(load.runs) >= 10, 30, "the load")
                assert _redis_health(url) == "healthy"
                before = len(load.runs)
                assert redis.proc is not None
                redis.proc.send_signal(signal.SIGSTOP)
                time.sleep(10)  # the outage's length, under load
                hung = _redis_health(url)
                redis.stop()  # SIGKILL, by its PID
                time.sleep(10)  # the outage's length, under load
                gone = _redis_health(url)
                during = len(load.runs) - before
                redis.start()
                back = wait_until(lambda: _redis_health(url) == "healthy", 15, "Redis's return")
                after = len(load.runs)
                wait_until(lambda: len(load.runs) >= after + 10, 30, "the load after")
                created = load.stop()
                drained = wait_until(lambda: cluster.in_flight(created) == 0, 30, "the drain")
                attempts = load.check_streams()
            cluster.close()
    finally:
        redis.stop()
    assert (hung, gone) == ("unhealthy", "unhealthy")
    statuses = cluster.statuses()
    assert {statuses[r] for r in created} == {"success"}
    report = check(created, statuses, read_audit(cluster.audit), read_worklog(cluster.worklog))
    assert report.finish_rejected == 0
    print(f"Redis down 20 s: {during} runs created during it, {len(created)} in all;")
    print(f"Redis down 20 s: healthy {back:.1f} s after its restart, drained in {drained:.1f} s,")
    print(f"Redis down 20 s: every stream whole (up to {attempts} attempts); {report}")
