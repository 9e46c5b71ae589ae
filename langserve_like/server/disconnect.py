"""Cancel a request's work when its client disconnects, at the cost of a dict entry.

Watching for a disconnect means a task blocked in `receive()`. LangServe did not
watch (an abandoned run kept running); a task per request, or an anyio task group
around every run, costs about as much as a whole hand-written route's request. Most
runs finish in milliseconds, so a watch only starts its watcher task when the work
is still running one to two `WATCH_AFTER` periods later; a run that takes longer is
cancelled at most that much later than before.

The watches of one app share one `Sweeper`: a watch is a ticket (an int) and an
entry in its dict, not an object per request (an object, its `__init__` and a
`stop` method cost twice the entry), and one timer looks at them all.

Use as::

    sweeper = disconnect.sweeper(app)     # the app's (`ServerState`), this loop's
    ticket = sweeper.watch(receive)
    try:
        await work
    except asyncio.CancelledError:
        if not sweeper.disconnected(ticket):
            raise  # someone else's cancellation
        ...        # the client left
    finally:
        sweeper.unwatch(ticket)
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langserve_like.server import state

__all__ = ["RECANCEL_EVERY", "WATCH_AFTER", "Sweeper", "sweeper"]

WATCH_AFTER = 0.25
#: After a disconnect, the work is cancelled again this often until it has stopped.
RECANCEL_EVERY = 0.05

Receive = Callable[[], Awaitable[Mapping[str, Any]]]
_Task = asyncio.Task[Any]

# `asyncio.current_task(loop)`, a C call: on Python 3.11 that function is Python
# (~1,000 instructions per request) reading the dict its C tasks keep current,
# which is read here directly; from 3.12 on it is C itself.
_current_tasks: Any = getattr(asyncio.tasks, "_current_tasks", None)
_current_task: Callable[[asyncio.AbstractEventLoop], _Task | None] = (
    _current_tasks.get
    if sys.version_info < (3, 12) and isinstance(_current_tasks, dict)
    else asyncio.current_task
)
_running_loop = asyncio.get_running_loop


def sweeper(app: state.ServerState | None = None) -> Sweeper:
    """The sweeper of `app` (default: the current request's) for the running loop."""
    if app is None:
        app = state.current()
    loop = _running_loop()
    found: Sweeper | None = app.sweeper
    if found is None or found.loop is not loop:
        # A new event loop (tests run several): the watches of the old one keep the
        # sweeper they were made with.
        found = app.sweeper = Sweeper(loop)
    return found


class Sweeper:
    """The disconnect watches of one app on one event loop: cancels the task that
    made a watch when its `receive()` reports `http.disconnect` (module docstring)."""

    __slots__ = ("_mark", "_started", "_tickets", "_timer", "_watches", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._timer: asyncio.TimerHandle | None = None
        # Tickets only grow, so insertion order is age order: a sweep starts the
        # watches below the mark the previous sweep left, and stops at the first
        # younger one.
        self._watches: dict[int, tuple[_Task | None, Receive]] = {}
        self._started: dict[int, _Watcher] = {}
        self._tickets = itertools.count()
        self._mark = 0

    def watch(self, receive: Receive) -> int:
        """Watch `receive` for the current task; `unwatch` the ticket when done."""
        ticket = next(self._tickets)
        self._watches[ticket] = (_current_task(self.loop), receive)
        if self._timer is None:
            self._mark = ticket + 1  # this one is started by the first sweep
            self._timer = self.loop.call_later(WATCH_AFTER, self._sweep)
        return ticket

    def unwatch(self, ticket: int) -> None:
        """Stop watching; call once the work is over, however it ended."""
        if self._watches.pop(ticket, None) is None:
            watcher = self._started.pop(ticket, None)
            if watcher is not None:
                watcher.stop()

    def disconnected(self, ticket: int) -> bool:
        """Whether the client of a watch (not yet unwatched) has left."""
        watcher = self._started.get(ticket)
        return watcher is not None and watcher.disconnected

    def _sweep(self) -> None:
        mark, self._mark = self._mark, next(self._tickets)
        watches = self._watches
        while watches:
            ticket = next(iter(watches))
            if ticket >= mark:
                break
            task, receive = watches.pop(ticket)
            self._started[ticket] = _Watcher(task, receive, self.loop)
        self._timer = self.loop.call_later(WATCH_AFTER, self._sweep) if watches else None


class _Watcher:
    """The task of a watch that outlived `WATCH_AFTER`: waits for the disconnect."""

    __slots__ = ("_cancels", "_receive", "_task", "_work", "disconnected")

    def __init__(
        self, work: _Task | None, receive: Receive, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._work = work
        self._receive = receive
        self._cancels = 0
        self.disconnected = False
        self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.disconnected = True
        # As anyio's cancel scopes do, cancel again until the work has stopped: code
        # that catches one CancelledError and then awaits its own cleanup is cancelled
        # there too (langchain-core's astream_log waits for its producer task).
        while self._work is not None and not self._work.done():
            self._work.cancel()
            self._cancels += 1
            await asyncio.sleep(RECANCEL_EVERY)

    def stop(self) -> None:
        self._task.cancel()
        if self._cancels and self._work is not None and hasattr(self._work, "uncancel"):
            # Those cancellations were ours and have been handled (Python >= 3.11
            # counts them, and asyncio.timeout or a TaskGroup up the stack read that).
            for _ in range(self._cancels):
                self._work.uncancel()
