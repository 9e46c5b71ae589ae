"""Graceful shutdown: requests the server cancels still get their last words out.

On SIGTERM uvicorn stops accepting connections and waits for the requests in
flight; with `--timeout-graceful-shutdown N` it cancels those still running after N
seconds, runs the app's lifespan shutdown and exits at once. A cancelled stream then
needs a few moments to send its final `error` event (503) and close the runnable's
generator, and a cancelled invoke to answer 503; without them the client would see
a cut connection. So `add_routes` wraps the app's lifespan: when shutdown begins, it
waits (at most `DRAIN_TIMEOUT` seconds) until langserve_like has nothing in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from langserve_like.server.state import ServerState, current

__all__ = ["DRAIN_TIMEOUT", "ServerState", "drain", "drain_on_shutdown", "in_flight"]

DRAIN_TIMEOUT = 5.0
_STATE = "_langserve_like_state"


def in_flight() -> ServerState:
    """Counts a request (or a streaming response) as in flight while it runs:
    `with in_flight(): ...`, against the current request's app."""
    return current()


async def drain(state: ServerState, timeout: float = DRAIN_TIMEOUT) -> bool:
    """Wait until nothing of `state` is in flight; False if `timeout` seconds passed
    first. Polled: the count changes on every request, and a wake-up per change
    would cost each request more than a shutdown spends polling."""
    deadline = time.monotonic() + timeout
    while state.in_flight > 0:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def drain_on_shutdown(router: Any, timeout: float = DRAIN_TIMEOUT) -> ServerState:
    """Make `router`'s lifespan wait for its in-flight work before the app's own
    shutdown; returns the router's state, shared by every route added to it.

    `router` is a FastAPI app's router or an APIRouter (whose lifespan FastAPI merges
    into the app's when it is included). Idempotent.
    """
    state: ServerState | None = getattr(router, _STATE, None)
    if state is not None:
        return state
    state = ServerState()
    original = router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with original(app) as app_state:
            try:
                yield app_state
            finally:
                await drain(state, timeout)

    router.lifespan_context = lifespan
    setattr(router, _STATE, state)
    return state
