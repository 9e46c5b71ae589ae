"""Per-chunk instructions of the streaming path alone, without uvicorn or sockets.

    python benchmarks/stream_inproc.py              # about 5 minutes under valgrind
    python benchmarks/stream_inproc.py --requests 3

The ASGI apps are called in-process with a `receive` that hands over the body and a
`send` that drops the message, so nothing depends on the network or on the load of
the machine: the server measurements (`stream_cost.py`) vary by ~1% between runs,
which hides changes worth a few thousand instructions per chunk. The script re-runs
itself under `valgrind --tool=callgrind`, collecting only inside
`sys.call_tracing` (which wraps each measured batch of requests and nothing else)
and dumping after each, so one process measures the raw route, langserve_like and
every variant of `stream_variants.py`. The raw route's `send` here costs nothing;
what uvicorn and h11 spend per write is measured by `stream_cost.py` and `run.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.apps import CHUNKS

OUT = Path(__file__).resolve().parent / "out"
PATHS = {
    "stream": "/gen/stream",
    "stream_events": "/gen/stream_events",
    "stream_log": "/gen/stream_log",
}
_BODY = b'{"input": "go"}'


def _scope(path: str) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"15")]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }


async def _requests(app: Any, path: str, count: int) -> None:
    never = asyncio.Event()  # the client never leaves
    for _ in range(count):
        given = False
        frames = 0

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": _BODY, "more_body": False}
            await never.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal frames
            frames += message.get("body", b"").count(b"event: data")

        await app(_scope(path), receive, send)
        if frames < CHUNKS:
            raise RuntimeError(f"{path}: {frames} data frames")


def runs(only: list[str] | None = None) -> list[tuple[str, str]]:
    from benchmarks.stream_variants import NO_COALESCING, VARIANTS

    base = f"ours+{NO_COALESCING}"
    found = [("raw", ""), ("ours", ""), (base, NO_COALESCING)]
    found += [(f"{base}+{v}", f"{NO_COALESCING},{v}") for v in VARIANTS]
    if only:
        return [run for run in found if run[0] in only]
    return found


def measure(requests: int, only: list[str] | None) -> None:
    """Under valgrind: one dump per (run, stream), in the order `runs()` x PATHS."""
    from benchmarks.apps.ours import app as ours
    from benchmarks.apps.raw import app as raw

    loop = asyncio.new_event_loop()
    for name, variants in runs(only):
        from benchmarks.stream_variants import apply

        apply(variants.split(","))
        app = raw if name == "raw" else ours
        for path in PATHS.values():
            loop.run_until_complete(_requests(app, path, 2))  # warm, not collected
            sys.call_tracing(loop.run_until_complete, (_requests(app, path, requests),))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument(
        "--only",
        action="append",
        help="measure only these runs (repeatable): raw, ours, ours+window0, ...",
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.requests, args.only)
        return 0
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("inproc.callgrind.*"):
        old.unlink()
    prefix = OUT / "inproc.callgrind"
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no"]
    cmd += ["--toggle-collect=sys_call_tracing", "--dump-after=sys_call_tracing"]
    cmd += [f"--callgrind-out-file={prefix}", sys.executable, __file__, "--measure"]
    cmd += ["--requests", str(args.requests)]
    for name in args.only or ():
        cmd += ["--only", name]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dumps = sorted(OUT.glob("inproc.callgrind.*"), key=lambda p: int(p.suffix[1:]))
    totals = []
    for dump in dumps:
        for line in dump.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                totals.append(int(line.split()[1]))
                break
    names = [name for name, _ in runs(args.only)]
    figures = {
        (name, key): totals[i * len(PATHS) + j] / args.requests
        for i, name in enumerate(names)
        for j, key in enumerate(PATHS)
    }
    keys = list(PATHS)
    print("| run | " + " | ".join(f"{k} Ir/response" for k in keys) + " | per chunk above raw |")
    print("|---|" + "---:|" * len(keys) + "---|")
    for name in names:
        cells = " | ".join(f"{figures[name, k]:,.0f}" for k in keys)
        above = ", ".join(f"{(figures[name, k] - figures['raw', k]) / CHUNKS:,.0f}" for k in keys)
        print(f"| {name} | {cells} | {above} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
