"""langserve_like serving the benchmark runnables: one `add_routes` per runnable.

Under callgrind the server runs ~50x slower than natively, so its two clocks (the
disconnect watch's delay and the streams' coalescing window) see requests that
would take 2 ms natively as 100 ms ones: a chat invoke starts a watcher task it
never starts natively, and a stream's chunks share fewer writes. `run.py
--time-scale N` sets `LSL_BENCH_TIME_SCALE`, and both are multiplied by it, so
the counts are those of the native timing. Without it, langserve_like as shipped.
"""

import os

from fastapi import FastAPI

from benchmarks.apps.runnables import routes
from benchmarks.stream_variants import set_window
from langserve_like import add_routes
from langserve_like.server import disconnect, sse

_SCALE = float(os.environ.get("LSL_BENCH_TIME_SCALE", "1"))
if _SCALE != 1:
    disconnect.WATCH_AFTER *= _SCALE
    set_window(sse.DEFAULT_COALESCE_WINDOW * _SCALE)

app = FastAPI()
for path, runnable in routes().items():
    add_routes(app, runnable, path=path)
