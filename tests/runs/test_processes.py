"""Two server processes on one SQLite file (`uvicorn --workers 2`): runs created
through either are executed once, and waits, joins and streams see runs that the
other process executes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from langgraph_sdk import get_sync_client

from langserve_like.runs.db_sqlite import connect
from tests.servers import run_uvicorn


def test_two_processes_share_the_queue_and_the_streams(tmp_path: Path) -> None:
    env = {"LSL_RUNS_DB": str(tmp_path / "runs.db")}
    extra = ["--workers", "2"]
    with (
        run_uvicorn("tests.runs.apps:app", env=env, extra_args=extra) as url,
        get_sync_client(url=url, timeout=60) as client,
    ):
        threads = [client.threads.create()["thread_id"] for _ in range(4)]
        runs = [
            (tid, client.runs.create(tid, "steps", input={"steps": []})["run_id"])
            for tid in threads
            for _ in range(2)
        ]
        for tid, run_id in runs:
            client.runs.join(tid, run_id)
            parts = list(client.runs.join_stream(tid, run_id, last_event_id="0"))
            assert [p.event for p in parts][0] == "metadata"
            assert parts[-1].event == "end"
            assert [int(p.id) for p in parts] == list(range(1, len(parts) + 1))
        for tid in threads:
            assert client.threads.get_state(tid)["values"] == {"steps": ["a", "b", "c"] * 2}
        assert {client.runs.get(t, r)["attempt"] for t, r in runs} == {1}
        live = client.runs.stream(threads[0], "steps", input={"steps": []}, stream_mode="updates")
        assert [p.event for p in live] == ["metadata", "updates", "updates", "updates", "end"]


def _open(path: Path, barrier: Any, errors: Any) -> None:
    barrier.wait()  # every process opens the new file at the same moment
    try:
        connect(path).close()
    except Exception as exc:  # reported to the test, which names it
        errors.put(repr(exc))


def test_processes_opening_a_new_sqlite_database_at_once_all_open_it(tmp_path: Path) -> None:
    # `langserve-like serve` and its workers start together on a new file: each
    # switches it to WAL, and SQLite told one of them "database is locked" at once
    # (about one start in ten with six processes), so a server or worker failed to
    # start. 30 new files, six processes each.
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    for attempt in range(30):
        path = tmp_path / f"runs-{attempt}.db"
        barrier = context.Barrier(6)
        processes = [context.Process(target=_open, args=(path, barrier, errors)) for _ in range(6)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
            assert process.exitcode == 0
        assert errors.empty(), errors.get()
