"""What the langserve_like routes of one app share, and how a request finds it.

Two apps in one process (tests, or an app mounted inside another) each have their
own `ServerState`: the count of requests in flight that the app's shutdown waits
for (`lifecycle`), and the timer that starts disconnect watchers (`disconnect`).
`add_routes` gives every handler of a router the router's state. invoke and batch
hand it to what they create; the streaming endpoints make it the current one for
the rest of the request (`use`), which is how the streaming response and its
disconnect watch, created deeper down and sent after the endpoint returns, find it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["ServerState", "current", "use"]


class ServerState:
    """One app's shared state. Entering it counts a request as in flight.

    A class with `__enter__` rather than `@contextlib.contextmanager`: it wraps
    every request, and a generator-based context manager costs several times more.
    """

    __slots__ = ("in_flight", "sweeper")

    def __init__(self) -> None:
        self.in_flight = 0
        #: The disconnect sweeper of the event loop that last asked for one.
        self.sweeper: Any = None

    def __enter__(self) -> None:
        self.in_flight += 1

    def __exit__(self, *exc_info: object) -> None:
        self.in_flight -= 1


# For code run outside any handler's endpoint (an `EventStreamResponse` or a
# disconnect `sweeper()` asked for outside one): a state no app drains.
_OUTSIDE = ServerState()
_current: ContextVar[ServerState] = ContextVar("langserve_like_state", default=_OUTSIDE)


def use(state: ServerState) -> None:
    """Make `state` the current one for the rest of this task (this request).

    Not reset on return: the response object an endpoint returns is sent after it,
    in the same task, and counts against the same state.
    """
    _current.set(state)


def current() -> ServerState:
    return _current.get()
