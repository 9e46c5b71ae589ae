"""PostgreSQL restarts under load (`pg_ctl restart -m fast` of a server this test
owns): the API server and two worker processes lose every connection mid-run,
reconnect, and every run still ends exactly once (I1-I4 on the workers' audit)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client

from tests.runs.cluster import Cluster, wait_until
from tests.runs.invariants import NODES, check, read_audit, read_worklog
from tests.runs.pg_instance import pg_instance

pytestmark = pytest.mark.live


def _ended(cluster: Cluster) -> int:
    return sum(w.what == "end" for w in read_worklog(cluster.worklog))


def test_failures_postgres_restart_mid_load_loses_and_duplicates_no_run(tmp_path: Path) -> None:
    env = {"LSL_STEP_SECONDS": "0.2", "LSL_MAX_FAILURES": "10"}
    with pg_instance() as pg, Cluster(tmp_path, pg.url, **env) as cluster:
        url, _ = cluster.start(2, 8)
        with get_sync_client(url=url, timeout=30) as client:
            threads = [client.threads.create()["thread_id"] for _ in range(20)]
            created = [
                client.runs.create(tid, "steps", input={"steps": []})["run_id"]
                for _ in range(3)
                for tid in threads
            ]
            wait_until(lambda: _ended(cluster) >= 20, 30, "work under way")
            in_flight = cluster.in_flight(created)
            began = time.monotonic()
            pg.restart("fast")
            restarted = time.monotonic() - began
            drained = wait_until(lambda: cluster.in_flight(created) == 0, 45, "the drain")
            statuses = cluster.statuses()
            assert {statuses[r] for r in created} == {"success"}, statuses
            # The API server reconnected too: it answers from the restarted server.
            for tid in threads:
                assert client.threads.get_state(tid)["values"] == {"steps": list(NODES) * 3}
        cluster.close()
    report = check(created, statuses, read_audit(cluster.audit), read_worklog(cluster.worklog))
    print(f"postgres restart: {in_flight} runs in flight, restart took {restarted:.1f} s,")
    print(f"postgres restart: drained {drained:.1f} s later; {report}")
