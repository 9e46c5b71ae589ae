"""Threads and durable background runs: the LangGraph server's API on one SQLite file.

`add_routes(app, runnable, path="/agent", runs=True)` registers the runnable as the
assistant `"agent"` and mounts the API once per app; the engine lives in
`app.state.langserve_like` and starts and stops with the app's lifespan.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from langserve_like.runs.options import Runs

__all__ = ["Runs", "attach"]

_STATE = "langserve_like"


def attach(app: Any, runnable: Any, path: str, runs: Runs | bool) -> None:
    """Serve `runnable` as the assistant named after `path` on `app`'s engine."""
    from fastapi import FastAPI

    from langserve_like.runs.graph import check_servable

    if not isinstance(app, FastAPI):
        raise TypeError(
            "runs= needs the FastAPI app itself (its lifespan starts the engine), "
            f"not {type(app).__name__}"
        )
    options = runs if isinstance(runs, Runs) else Runs()
    graph_id = path.strip("/").replace("/", "_") or "default"
    check_servable(runnable, path)
    engine = getattr(app.state, _STATE, None)
    if engine is None:
        engine = _mount(app, options)
    elif isinstance(runs, Runs) and runs != engine.options:
        raise ValueError("Every add_routes(..., runs=Runs(...)) of one app must pass the same Runs")
    engine.registry.add(graph_id, runnable)


def _mount(app: Any, options: Runs) -> Any:
    from langserve_like.runs.api import build_router
    from langserve_like.runs.engine import Engine

    engine = Engine(options)
    setattr(app.state, _STATE, engine)
    app.include_router(build_router(engine, options.prefix))
    original = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        await engine.start()
        try:
            async with original(app_) as state:
                yield state
        finally:
            await engine.stop()

    app.router.lifespan_context = lifespan
    return engine
