"""Cancel a request's work when its client disconnects, at the cost of a dict entry.

Watching for a disconnect means a task blocked in `receive()`. LangServe did not
watch (an abandoned run kept running); a task per request, or an anyio task group
around every run, costs about as much as a whole hand-written route's request. Most
runs finish in milliseconds, so a `DisconnectWatch` only starts its watcher task
when the work is still running `WATCH_AFTER` seconds later; a run that takes longer
is cancelled at most that much later than before. The watches of one app and event
loop share one timer (`_Sweeper`): a timer handle per request costs several times a
dict entry.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langserve_like.server import state

__all__ = ["RECANCEL_EVERY", "WATCH_AFTER", "DisconnectWatch"]

WATCH_AFTER = 0.25
#: After a disconnect, the work is cancelled again this often until it has stopped.
RECANCEL_EVERY = 0.05

Receive = Callable[[], Awaitable[Mapping[str, Any]]]

# `asyncio.current_task(loop)`, a C call: on Python 3.11 that function is Python
# (~1,000 instructions per request) reading the dict its C tasks keep current,
# which is read here directly; from 3.12 on it is C itself.
_current_tasks: Any = getattr(asyncio.tasks, "_current_tasks", None)
_current_task: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None] = (
    _current_tasks.get
    if sys.version_info < (3, 12) and isinstance(_current_tasks, dict)
    else asyncio.current_task
)
# The watches' ages on the monotonic clock rather than `loop.time()` (a Python
# method on asyncio's loop); the sweeps compute their delays from it.
_now = time.monotonic


class DisconnectWatch:
    """Cancels the task that creates it when `receive()` reports `http.disconnect`.

    Its timer is the one of `app` (default: the current request's `ServerState`).

    Use as::

        watch = DisconnectWatch(receive)
        try:
            await work
        except asyncio.CancelledError:
            if not watch.disconnected:
                raise  # someone else's cancellation
            ...        # the client left
        finally:
            watch.stop()
    """

    __slots__ = ("_cancels", "_receive", "_sweeper", "_task", "_watcher", "disconnected")

    def __init__(self, receive: Receive, app: state.ServerState | None = None) -> None:
        self._receive = receive
        loop = asyncio.get_running_loop()
        self._task = _current_task(loop)
        self._watcher: asyncio.Task[None] | None = None
        self._cancels = 0
        self.disconnected = False
        # `_sweeper()` and `_Sweeper.add`, inlined: every request makes a watch, and
        # the two calls were a third of its ~10,000 instructions.
        if app is None:  # the request's, unless its endpoint passed it
            app = state.current()
        sweeper: _Sweeper | None = app.sweeper
        if sweeper is None or sweeper.loop is not loop:
            sweeper = app.sweeper = _Sweeper(loop)
        self._sweeper = sweeper
        sweeper.watches[self] = _now()
        if sweeper.timer is None:
            sweeper.timer = loop.call_later(WATCH_AFTER, sweeper._sweep)

    def _start(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.disconnected = True
        # As anyio's cancel scopes do, cancel again until the work has stopped: code
        # that catches one CancelledError and then awaits its own cleanup is cancelled
        # there too (langchain-core's astream_log waits for its producer task).
        while self._task is not None and not self._task.done():
            self._task.cancel()
            self._cancels += 1
            await asyncio.sleep(RECANCEL_EVERY)

    def stop(self) -> None:
        """Stop watching; call once the work is over, however it ended."""
        if self._watcher is None:
            self._sweeper.watches.pop(self, None)
        else:
            self._watcher.cancel()
        if self._cancels and self._task is not None and hasattr(self._task, "uncancel"):
            # Those cancellations were ours and have been handled (Python >= 3.11
            # counts them, and asyncio.timeout or a TaskGroup up the stack read that).
            for _ in range(self._cancels):
                self._task.uncancel()


class _Sweeper:
    """Starts the watcher of every watch of one loop older than `WATCH_AFTER`."""

    __slots__ = ("loop", "timer", "watches")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.timer: asyncio.TimerHandle | None = None
        # Insertion order is age order, so a sweep stops at the first young watch.
        self.watches: dict[DisconnectWatch, float] = {}

    def _sweep(self) -> None:
        self.timer = None
        due = _now() - WATCH_AFTER
        while self.watches:
            watch, since = next(iter(self.watches.items()))
            if since > due:
                self.timer = self.loop.call_later(since - due, self._sweep)
                return
            del self.watches[watch]
            watch._start()
