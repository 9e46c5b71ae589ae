"""Redis dies mid-load (SIGKILL of a redis-server this test owns): runs still
complete, a live stream carries on from the database, new streams read the
database, /ok says so (503 where `require_redis`), and once Redis is back on the
same port new streams go through it again."""

from __future__ import annotations

from pathlib import Path

import httpx
import redis

from tests.runs.test_redis import (
    custom,
    numsub,
    read_until,
    redis_server,
    replicas,
    sdk,
    start_gated,
    triples,
    wait_until,
)
from tests.servers import free_port


def redis_state(url: str) -> tuple[int, str]:
    response = httpx.get(f"{url}/ok", timeout=10)
    return response.status_code, response.json()["services"]["redis"]


def test_redis_outage_runs_finish_streams_fall_back_and_recover(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    gates = [tmp_path / f"gate{i}" for i in range(6)]
    with (
        redis_server(port) as server,
        replicas(tmp_path, url, a_env={"LSL_REQUIRE_REDIS": "1"}) as (a_url, b_url),
        sdk(a_url) as a,
        sdk(b_url) as b,
    ):
        assert redis_state(a_url) == (200, "healthy")
        runs = [start_gated(a, gate) for gate in gates]
        tid, rid = runs[0]
        probe = redis.Redis(host="127.0.0.1", port=port)
        live = a.runs.join_stream(tid, rid, last_event_id="0")
        head = []
        for part in live:  # through Redis: A has subscribed the run's channel
            head.append(part)
            if custom("start", 2)(part):
                break
        assert numsub(probe, rid) == 1
        probe.close()

        server.kill()  # SIGKILL, mid-run: six runs wait at their first gate
        server.wait(timeout=10)
        wait_until(lambda: redis_state(a_url) == (503, "unhealthy"))
        assert redis_state(b_url) == (200, "unhealthy")

        for gate in gates[:-1]:
            Path(f"{gate}.1").touch()
            Path(f"{gate}.2").touch()
        rest = list(live)  # the same request, now following the database
        for t, r in runs[:-1]:
            a.runs.join(t, r)
            assert a.runs.get(t, r)["status"] == "success"
        whole = list(b.runs.join_stream(tid, rid, last_event_id="0"))
        assert whole[-1].event == "end"
        assert triples(head + rest) == triples(whole)
        fresh = list(a.runs.join_stream(*runs[1], last_event_id="0"))  # a new stream, no Redis
        assert triples(fresh) == triples(list(b.runs.join_stream(*runs[1], last_event_id="0")))

        with redis_server(port):
            wait_until(lambda: redis_state(a_url) == (200, "healthy"))
            wait_until(lambda: redis_state(b_url) == (200, "healthy"))
            probe = redis.Redis(host="127.0.0.1", port=port)
            gate = tmp_path / "after"
            tid, rid = start_gated(a, gate)

            def live_through_redis() -> None:
                assert a.runs.get(tid, rid)["status"] == "running"
                assert numsub(probe, rid) == 1

            parts = a.runs.join_stream(tid, rid, last_event_id="0")
            first = read_until(parts, custom("start", 2), live_through_redis)
            Path(f"{gate}.1").touch()
            Path(f"{gate}.2").touch()
            after = list(a.runs.join_stream(tid, rid, last_event_id=first[-1].id))
            assert after[-1].event == "end"
            whole = list(b.runs.join_stream(tid, rid, last_event_id="0"))
            assert triples(first + after) == triples(whole)

            # A run that lived through the outage: the new Redis has only its later
            # events; the stream fills the rest from the database, in order.
            tid, rid = runs[-1]
            Path(f"{gates[-1]}.1").touch()
            parts = a.runs.join_stream(tid, rid, last_event_id="0")
            first = read_until(parts, custom("middle", 2), lambda: None)
            Path(f"{gates[-1]}.2").touch()
            after = list(a.runs.join_stream(tid, rid, last_event_id=first[-1].id))
            whole = list(b.runs.join_stream(tid, rid, last_event_id="0"))
            assert whole[-1].event == "end"
            assert triples(first + after) == triples(whole)
            assert 0 < probe.xlen(f"lsl:run:{rid}:ev") < len(whole)
            probe.close()
