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

__all__ = ["DRAIN_TIMEOUT", "drain", "drain_on_shutdown", "in_flight", "in_flight_count"]

DRAIN_TIMEOUT = 5.0
_MARK = "_langserve_like_drains"
_count = 0


class _InFlight:
    """Counts a request (or a streaming response) as in flight while it runs.

    A class rather than `@contextlib.contextmanager`: it wraps every request, and
    a generator-based context manager costs several thousand instructions more.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        global _count
        _count += 1

    def __exit__(self, *exc_info: object) -> None:
        global _count
        _count -= 1


_IN_FLIGHT = _InFlight()


def in_flight() -> _InFlight:
    """Counts a request (or a streaming response) as in flight while it runs."""
    return _IN_FLIGHT


def in_flight_count() -> int:
    return _count


async def drain(timeout: float = DRAIN_TIMEOUT) -> bool:
    """Wait until nothing is in flight; False if `timeout` seconds passed first."""
    deadline = time.monotonic() + timeout
    while _count > 0:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def drain_on_shutdown(router: Any, timeout: float = DRAIN_TIMEOUT) -> None:
    """Make `router`'s lifespan wait for in-flight work before the app's own shutdown.

    `router` is a FastAPI app's router or an APIRouter (whose lifespan FastAPI merges
    into the app's when it is included). Idempotent.
    """
    if getattr(router, _MARK, False):
        return
    original = router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with original(app) as state:
            try:
                yield state
            finally:
                await drain(timeout)

    router.lifespan_context = lifespan
    setattr(router, _MARK, True)
