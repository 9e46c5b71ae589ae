"""Redis as the live fan-out between replicas: two uvicorn processes on one SQLite
file, A serving the API only (`workers=0`) and B executing, both on Redis db 11
of the shared server (flushed by these tests only). A client streaming on A sees
B's run live, rejoins anywhere without gap or duplicate, and a cancel sent to A
stops the run on B at once."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.schema import StreamPart

from tests.servers import ROOT, free_port, run_uvicorn, wait_for_port

APP = "tests.runs.apps_redis:app"
REDIS_DB = 11
SHARED_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
MODES = ["values", "updates", "custom"]


def wait_until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy (a condition with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)


@contextlib.contextmanager
def replicas(
    tmp_path: Path, redis_url: str, a_env: dict[str, str] | None = None
) -> Iterator[tuple[str, str]]:
    """(A, B): A with no workers, B executing; one SQLite file, one Redis."""
    common = {
        "LSL_RUNS_DB": str(tmp_path / "runs.db"),
        "REDIS_URI": redis_url,
        "LSL_GRACE": "1",
        "LSL_HEARTBEAT": "10",
        "LSL_LEASE_TTL": "30",
    }
    with (
        run_uvicorn(
            APP, env={**common, "LSL_WORKERS": "0", **(a_env or {})}, log_path=tmp_path / "a.log"
        ) as a,
        run_uvicorn(APP, env={**common, "LSL_WORKERS": "4"}, log_path=tmp_path / "b.log") as b,
    ):
        yield a, b


@contextlib.contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of the test's own, without persistence; SIGKILLed on exit."""
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    proc = subprocess.Popen(
        [*cmd, "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """Db 11 of the machine's Redis; a redis-server of our own where none runs."""
    probe = redis.Redis.from_url(SHARED_URL, socket_connect_timeout=1)
    try:
        probe.ping()
    except redis.ConnectionError:
        port = free_port()
        with redis_server(port):
            yield f"redis://127.0.0.1:{port}/{REDIS_DB}"
        return
    finally:
        probe.close()
    yield SHARED_URL


@pytest.fixture(scope="module")
def shared_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()  # db 11 is these tests' own
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def two(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, shared_redis: redis.Redis
) -> Iterator[tuple[str, str]]:
    with replicas(tmp_path_factory.mktemp("redis"), redis_url) as urls:
        yield urls


def sdk(url: str) -> SyncLangGraphClient:
    return get_sync_client(url=url, timeout=30)


def start_gated(client: SyncLangGraphClient, gate: Path) -> tuple[str, str]:
    tid = client.threads.create()["thread_id"]
    run = client.runs.create(tid, "gated", input={"gate": str(gate), "log": []}, stream_mode=MODES)
    return tid, run["run_id"]


def numsub(server: redis.Redis, run_id: str) -> int:
    return int(server.pubsub_numsub(f"lsl:run:{run_id}:ev")[0][1])


def read_until(
    parts: Iterator[StreamPart], stop: Callable[[StreamPart], bool], during: Callable[[], None]
) -> list[StreamPart]:
    """Parts up to and including the first that `stop` accepts; `during` runs
    before the stream is left (while it is still open)."""
    seen: list[StreamPart] = []
    for part in parts:
        seen.append(part)
        if stop(part):
            break
    during()
    parts.close()  # type: ignore[attr-defined]
    return seen


def custom(node: str, i: int) -> Callable[[StreamPart], bool]:
    return lambda p: p.event == "custom" and p.data == {"node": node, "i": i}


def triples(parts: list[StreamPart]) -> list[tuple[int, str, Any]]:
    return [(int(p.id or 0), p.event, p.data) for p in parts]


def test_redis_stream_on_api_replica_is_live_and_rejoins_anywhere(
    two: tuple[str, str], shared_redis: redis.Redis, tmp_path: Path
) -> None:
    a_url, b_url = two
    gate = tmp_path / "gate"
    with sdk(a_url) as a, sdk(b_url) as b:
        tid, rid = start_gated(a, gate)

        def still_running_and_subscribed() -> None:
            # Both gates are shut: the run cannot have ended, so these events came live.
            assert a.runs.get(tid, rid)["status"] == "running"
            assert numsub(shared_redis, rid) >= 1

        parts = a.runs.join_stream(tid, rid, last_event_id="0")
        first = read_until(parts, custom("start", 2), still_running_and_subscribed)
        assert first[0].event == "metadata"

        # B executes the run: it serves the rejoin from its own memory.
        Path(f"{gate}.1").touch()
        parts = b.runs.join_stream(tid, rid, last_event_id=first[-1].id)
        second = read_until(parts, custom("middle", 2), lambda: None)
        assert a.runs.get(tid, rid)["status"] == "running"  # gate 2 is still shut

        Path(f"{gate}.2").touch()
        third = list(a.runs.join_stream(tid, rid, last_event_id=second[-1].id))
        assert third[-1].event == "end"

        whole = list(b.runs.join_stream(tid, rid, last_event_id="0"))
        assert [int(p.id or 0) for p in whole] == list(range(1, len(whole) + 1))
        assert triples(first + second + third) == triples(whole)
        # A replays the finished run from Redis too, from any id.
        middle = whole[len(whole) // 2]
        again = list(a.runs.join_stream(tid, rid, last_event_id=middle.id))
        assert triples(again) == triples(whole[len(whole) // 2 + 1 :])


def test_redis_cancel_on_api_replica_stops_the_run_on_the_executing_one_at_once(
    two: tuple[str, str], tmp_path: Path
) -> None:
    a_url, _ = two
    with sdk(a_url) as a:
        tid, rid = start_gated(a, tmp_path / "never")
        wait_until(lambda: a.runs.get(tid, rid)["status"] == "running")
        started = time.monotonic()
        a.runs.cancel(tid, rid)
        wait_until(lambda: a.runs.get(tid, rid)["status"] == "interrupted", timeout=8)
        elapsed = time.monotonic() - started
    # The heartbeat (every 10 s) would have found the cancel much later.
    assert elapsed < 2.0, elapsed


def test_redis_reconnect_storm_leaves_no_subscription(
    two: tuple[str, str], shared_redis: redis.Redis, tmp_path: Path
) -> None:
    a_url, _ = two
    gate = tmp_path / "gate"
    with sdk(a_url) as a:
        tid, rid = start_gated(a, gate)
        for _ in range(100):
            parts = a.runs.join_stream(tid, rid, last_event_id="0")
            (part,) = read_until(parts, lambda p: True, lambda: None)
            assert part.event == "metadata"
        wait_until(lambda: numsub(shared_redis, rid) == 0, timeout=5)
        assert not [c for c in shared_redis.pubsub_channels("lsl:run:*") if rid.encode() in c]
        ok = httpx.get(f"{a_url}/ok").json()
        assert ok["services"]["streams"]["subscribers"] == 0
        assert ok["services"]["redis"] == "healthy"
        # The replica still streams after the storm.
        Path(f"{gate}.1").touch()
        Path(f"{gate}.2").touch()
        assert list(a.runs.join_stream(tid, rid, last_event_id="0"))[-1].event == "end"


def test_redis_interrupt_strategy_on_api_replica_stops_the_run_on_the_executing_one(
    two: tuple[str, str], tmp_path: Path
) -> None:
    a_url, _ = two
    open_gate = tmp_path / "open"
    Path(f"{open_gate}.1").touch()
    Path(f"{open_gate}.2").touch()
    with sdk(a_url) as a:
        tid, first = start_gated(a, tmp_path / "never")
        wait_until(lambda: a.runs.get(tid, first)["status"] == "running")
        started = time.monotonic()
        second = a.runs.create(
            tid, "gated", input={"gate": str(open_gate), "log": []}, multitask_strategy="interrupt"
        )
        wait_until(lambda: a.runs.get(tid, first)["status"] == "interrupted", timeout=8)
        elapsed = time.monotonic() - started
        a.runs.join(tid, second["run_id"])
        assert a.runs.get(tid, second["run_id"])["status"] == "success"
    # The heartbeat (every 10 s) would have found the cancel much later.
    assert elapsed < 2.0, elapsed


def test_redis_stream_created_on_api_replica_carries_the_other_replicas_run(
    two: tuple[str, str], tmp_path: Path
) -> None:
    a_url, b_url = two
    gate = tmp_path / "open"
    Path(f"{gate}.1").touch()
    Path(f"{gate}.2").touch()
    with sdk(a_url) as a, sdk(b_url) as b:
        tid = a.threads.create()["thread_id"]
        streamed = list(
            a.runs.stream(tid, "gated", input={"gate": str(gate), "log": []}, stream_mode=MODES)
        )
        assert streamed[-1].event == "end"
        (run,) = a.runs.list(tid)
        whole = list(b.runs.join_stream(tid, run["run_id"], last_event_id="0"))
        assert triples(streamed) == triples(whole)
        assert a.threads.get_state(tid)["values"]["log"][-1] == "finish"


def test_redis_options_are_checked_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    from langserve_like import Runs

    monkeypatch.delenv("REDIS_URI", raising=False)
    with pytest.raises(ValueError, match="redis://"):
        Runs(redis="http://secret@example.com")
    with pytest.raises(ValueError, match="require_redis"):
        Runs(require_redis=True)
    monkeypatch.setenv("REDIS_URI", "redis://127.0.0.1:6379/3")
    assert Runs().redis_url() == "redis://127.0.0.1:6379/3"
    assert Runs(redis="unix:///run/redis.sock").redis_url() == "unix:///run/redis.sock"


@contextlib.contextmanager
def executing_replica(
    env: dict[str, str], log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """An executing replica whose process the test may SIGKILL."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", str(port)]
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full, stdout=out, stderr=out)
        try:
            wait_for_port(port, proc)
            yield proc, f"http://127.0.0.1:{port}"
        finally:
            proc.kill()
            proc.wait(timeout=10)


def test_redis_stream_follows_a_run_across_the_kill_of_its_worker(
    tmp_path: Path, redis_url: str, shared_redis: redis.Redis
) -> None:
    env = {
        "LSL_RUNS_DB": str(tmp_path / "runs.db"),
        "REDIS_URI": redis_url,
        "LSL_LEASE_TTL": "3",
        "LSL_HEARTBEAT": "1",
        "LSL_REAPER": "1",
        "LSL_GRACE": "1",
    }
    gate = tmp_path / "gate"
    with (
        run_uvicorn(APP, env={**env, "LSL_WORKERS": "0"}, log_path=tmp_path / "a.log") as a_url,
        sdk(a_url) as a,
    ):
        with executing_replica(env, tmp_path / "b1.log") as (first_worker, _):
            tid, rid = start_gated(a, gate)
            live = a.runs.join_stream(tid, rid, last_event_id="0")
            head = []
            for part in live:
                head.append(part)
                if custom("start", 2)(part):
                    break
            first_worker.kill()  # SIGKILL, the run waiting at its first gate
        with executing_replica(env, tmp_path / "b2.log") as (_, b_url), sdk(b_url) as b:
            wait_until(lambda: a.runs.get(tid, rid)["attempt"] == 2, timeout=20)
            Path(f"{gate}.1").touch()
            Path(f"{gate}.2").touch()
            rest = list(live)  # the same request, through the worker's death and the retry
            whole = list(b.runs.join_stream(tid, rid, last_event_id="0"))
            status = a.runs.get(tid, rid)["status"]
    assert status == "success"
    # The client may have had events the dead worker sent but never wrote; from the
    # retry's announcement on, it gets exactly what the database holds, to `end`.
    seen = triples(head + rest)
    ids = [seq for seq, _, _ in seen]
    assert ids == sorted(set(ids))
    retry = next(i for i, p in enumerate(head + rest) if p.event == "metadata" and i > 0)
    assert seen[retry][2]["attempt"] == 2
    written = triples(whole)
    assert seen[retry:] == [t for t in written if t[0] >= seen[retry][0]]
    # What the dead attempt did write, the client had, the same.
    before = [t for t in written if t[0] < seen[retry][0]]
    assert before == [t for t in seen[:retry] if t in written]
    # (The dead attempt may have written nothing at all: it died within the flush delay.)
    assert [p.data["attempt"] for p in whole if p.event == "metadata"][-1] == 2
    assert whole[-1].event == "end"
