"""`langserve-like worker`: an app's runs engine without its HTTP server.

The process imports the same app as the API replicas (for its graphs and its
`Runs` options), runs the app's lifespan (which starts the engine: claim loop,
heartbeat, reaper; and whatever the app's own startup opens for its graphs), serves
no HTTP, and executes runs that any replica created in the shared database. SIGTERM or
SIGINT drains it: it stops claiming, lets its runs finish for `shutdown_grace`
seconds and hands the rest back as pending, without counting a failure, so
another worker resumes them from their last checkpoint. A second signal ends
the grace at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import replace
from typing import Any

from langserve_like.runs.options import WORKERS_ENV

__all__ = ["find_engine", "run_worker"]

logger = logging.getLogger("langserve_like.runs")

_STATE = "langserve_like"


def find_engine(app: Any) -> Any:
    """The runs engine `add_routes(..., runs=...)` put on `app`, or None."""
    state = getattr(app, "state", None)
    return getattr(state, _STATE, None) if state is not None else None


def run_worker(app: Any, *, concurrency: int | None, grace: float | None) -> int:
    """Execute runs until SIGTERM or SIGINT; returns the exit status."""
    engine = find_engine(app)
    if concurrency is not None:
        # Through the environment, like every process of a deployment gets it.
        os.environ[WORKERS_ENV] = str(concurrency)
    if grace is not None:
        engine.options = replace(engine.options, shutdown_grace=grace)
    workers = engine.options.with_environment().workers
    if workers < 1:
        raise ValueError(
            f"this worker would execute no runs (workers={workers}, from {WORKERS_ENV} or "
            "the app's Runs); pass --concurrency N"
        )
    asyncio.run(_serve(app, engine))
    return 0


async def _serve(app: Any, engine: Any) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_signal(signum: int) -> None:
        if not stopping.is_set():
            logger.info(
                "%s: draining (no new claims; %.1f s for the runs in flight)",
                signal.Signals(signum).name,
                engine.options.shutdown_grace,
            )
            stopping.set()
            return
        logger.warning("Second signal: handing the runs in flight back now")
        for active in list(engine.worker.active.values()):
            engine.worker.stop_run(active.run_id, "shutdown")

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    async with app.router.lifespan_context(app):
        logger.info(
            "langserve-like worker %d: executing up to %d runs at once",
            os.getpid(),
            engine.options.workers,
        )
        await stopping.wait()
    logger.info("langserve-like worker %d: stopped", os.getpid())
