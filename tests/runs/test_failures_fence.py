"""A worker resumed after a pause longer than its lease may not write a late
checkpoint: the run's next attempt owns the thread's state now.

The process tests (test_failures.py) pause a real worker with SIGSTOP, but
whether its heartbeat or its node wins the race after SIGCONT is up to the
scheduler; here the lost attempt's checkpoint write is made directly.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from langserve_like.runs import queue
from langserve_like.runs.engine import Engine
from langserve_like.runs.options import Runs
from langserve_like.runs.storage import LeaseLost
from langserve_like.runs.worker import EXECUTING, Active


async def _late_checkpoint(database: str) -> tuple[bool, bool]:
    engine = Engine(Runs(database=database, workers=0))
    await engine.start()
    try:
        new = queue.NewRun("g", {}, thread_id="t-1", if_not_exists="create")
        await engine.db.write(lambda c: queue.insert_run(c, new))
        [row] = await engine.db.write(lambda c: queue.claim(c, "me", 30_000, 1))
        # This task executes attempt 1, whose lease was renewed long ago (its
        # process was paused): the checkpointer must ask the database...
        EXECUTING.set(Active(new.run_id, 1, "t-1", time.monotonic()))
        config = {"configurable": {"thread_id": "t-1", "checkpoint_ns": ""}}
        await engine.saver.aput(config, empty_checkpoint(), {"run_id": new.run_id}, {})
        written = True
        # ...until the reaper gave the run to another worker, as attempt 2.
        await engine.db.write(
            lambda c: c.execute("UPDATE lsl_runs SET attempt = 2 WHERE run_id = ?", (row[0],))
        )
        try:
            await engine.saver.aput(config, empty_checkpoint(), {"run_id": new.run_id}, {})
        except LeaseLost:
            return written, True
        return written, False
    finally:
        await engine.stop()


def test_failures_a_lost_attempt_cannot_write_a_late_checkpoint(failure_db: str) -> None:
    written, refused = asyncio.run(_late_checkpoint(failure_db))
    assert written, "the attempt holding the lease could not checkpoint"
    assert refused, "the attempt that lost its lease wrote a checkpoint"


@pytest.mark.parametrize("metadata", [{}, {"run_id": "not-executed-here"}])
def test_failures_checkpoints_written_outside_a_run_are_not_fenced(
    tmp_path: Path, metadata: dict[str, str]
) -> None:
    """update_state and the like write checkpoints from the API process."""

    async def scenario() -> None:
        engine = Engine(Runs(database=str(tmp_path / "runs.db"), workers=0))
        await engine.start()
        try:
            config = {"configurable": {"thread_id": "t-2", "checkpoint_ns": ""}}
            await engine.saver.aput(config, empty_checkpoint(), metadata, {})
        finally:
            await engine.stop()

    asyncio.run(scenario())
