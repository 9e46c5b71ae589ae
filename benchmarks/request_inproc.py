"""Instructions per request of every `run.py` row, in-process, raw route and ours.

    python benchmarks/request_inproc.py                       # all rows, ~6 minutes
    python benchmarks/request_inproc.py --only invoke --only batch10 --requests 10

`stream_inproc.py` for invoke, batch and chat too: the ASGI apps (`apps/raw.py`,
`apps/ours.py`) are called in-process with a `receive` that hands over the body
and a `send` that drops the message, under `valgrind --tool=callgrind` collecting
only inside `sys.call_tracing` around each measured batch of requests, so the
figures repeat to a few hundred instructions and nothing depends on uvicorn, the
network or the machine's load. langserve_like's streams run with the coalescing
window at 0 (every frame its own write, as on the raw route), and with the
disconnect watcher's delay at an hour: natively a request of a few milliseconds
never starts a watcher task, but under valgrind (~50x slower) any request longer
than 5 ms native does, depending on the machine's load (`run.py`'s figures carry
that noise). What uvicorn and h11 spend per request and per write is not in these
figures: `run.py` measures that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OUT = Path(__file__).resolve().parent / "out"
ROWS: dict[str, tuple[str, bytes, int]] = {  # row -> path, body, default requests
    "invoke": ("/lambda/invoke", b'{"input": 1}', 20),
    "batch10": ("/lambda/batch", json.dumps({"inputs": list(range(10))}).encode(), 5),
    "chat": ("/chat/invoke", b'{"input": {"topic": "cats"}}', 10),
    "stream": ("/gen/stream", b'{"input": "go"}', 3),
    "stream_events": ("/gen/stream_events", b'{"input": "go"}', 3),
    "stream_log": ("/gen/stream_log", b'{"input": "go"}', 3),
}
APPS = ("raw", "ours")


def _request(app: Any, path: str, body: bytes) -> Callable[[], Awaitable[None]]:
    from benchmarks.stream_inproc import _scope

    never = asyncio.Event()  # the client never leaves
    length = str(len(body)).encode()

    async def one() -> None:
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await never.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            status = message.get("status", 200)
            if status != 200:
                raise RuntimeError(f"{path}: status {status}")

        scope = _scope(path)
        scope["headers"] = [(b"content-type", b"application/json"), (b"content-length", length)]
        await app(scope, receive, send)

    return one


def measure(rows: list[str], requests: int | None) -> None:
    """Under valgrind: one dump per (row, app), in the order rows x APPS."""
    from benchmarks.apps.ours import app as ours
    from benchmarks.apps.raw import app as raw
    from benchmarks.stream_variants import NO_COALESCING, apply
    from langserve_like.server import disconnect

    apply([NO_COALESCING])
    disconnect.WATCH_AFTER = 3600.0  # read per request: no watcher task (docstring)
    loop = asyncio.new_event_loop()

    async def many(one: Callable[[], Awaitable[None]], count: int) -> None:
        for _ in range(count):
            await one()

    for row in rows:
        path, body, default = ROWS[row]
        for app in (raw, ours):
            one = _request(app, path, body)
            loop.run_until_complete(many(one, 5))  # warm, not collected
            sys.call_tracing(loop.run_until_complete, (many(one, requests or default),))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, help="per row (default: per row, 3 to 20)")
    parser.add_argument("--only", action="append", choices=list(ROWS), help="repeatable")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows = args.only or list(ROWS)
    if args.measure:
        measure(rows, args.requests)
        return 0
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("request_inproc.callgrind.*"):
        old.unlink()
    prefix = OUT / "request_inproc.callgrind"
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no"]
    cmd += ["--toggle-collect=sys_call_tracing", "--dump-after=sys_call_tracing"]
    cmd += [f"--callgrind-out-file={prefix}", sys.executable, __file__, "--measure"]
    for row in rows:
        cmd += ["--only", row]
    if args.requests:
        cmd += ["--requests", str(args.requests)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dumps = sorted(OUT.glob("request_inproc.callgrind.*"), key=lambda p: int(p.suffix[1:]))
    totals = []
    for dump in dumps:
        for line in dump.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                totals.append(int(line.split()[1]))
                break
    print("| row | raw Ir/request | ours Ir/request | ours - raw | ours ÷ raw |")
    print("|---|---:|---:|---:|---:|")
    for i, row in enumerate(rows):
        count = args.requests or ROWS[row][2]
        raw, ours = totals[2 * i] / count, totals[2 * i + 1] / count
        print(f"| {row} | {raw:,.0f} | {ours:,.0f} | {ours - raw:+,.0f} | {ours / raw:.3f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
