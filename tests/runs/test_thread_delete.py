"""Deleting a thread whose run executes in another process (a split deployment on
PostgreSQL: an API server that executes nothing, one worker) stops that run at
once, not at the worker's next heartbeat, and the run writes nothing to the
deleted thread afterwards: its worker checkpoints without asking the database
while its lease is fresh, so the stop must reach it first."""

from __future__ import annotations

import time
from pathlib import Path

from langgraph_sdk import get_sync_client

from tests.runs.cluster import Cluster, query, wait_until
from tests.runs.databases import fresh_database
from tests.runs.invariants import read_worklog


def test_thread_delete_stops_its_run_in_another_process_at_once(tmp_path: Path) -> None:
    slow = {"LSL_LEASE_TTL": "60", "LSL_HEARTBEAT": "20", "LSL_STEP_SECONDS": "5"}
    with (
        fresh_database("postgres", tmp_path) as database,
        Cluster(tmp_path, database, **slow) as cluster,
    ):
        url, _ = cluster.start(1, 1)
        with get_sync_client(url=url, timeout=60) as client:
            tid = client.threads.create()["thread_id"]
            run_id = client.runs.create(tid, "steps", input={"steps": []})["run_id"]
            wait_until(lambda: len(read_worklog(cluster.worklog)) > 0, 30, "the first node")
            began = time.monotonic()
            client.threads.delete(tid)
            # One slot: the next run starts only once the deleted thread's run stopped.
            other = client.threads.create()["thread_id"]
            client.runs.wait(other, "echo", input={"messages": ["x"]})
            stopped = time.monotonic() - began
        worklog = read_worklog(cluster.worklog)
        nodes = [(w.node, w.what) for w in worklog if w.run_id == run_id]
        left = query(database, "SELECT count(*) FROM checkpoints WHERE thread_id = ?", tid)
    print(f"thread delete: run stopped {stopped:.1f} s later after {nodes}; checkpoints {left}")
    # Unstopped, node a alone would end 5 s after it started; a heartbeat, 20 s.
    assert stopped < 4, stopped
    assert nodes == [("a", "start")]
    assert left == [(0,)]
