"""Instructions langchain-core itself spends per request, with no server at all.

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/share.%p \\
        .venv-bench/bin/python benchmarks/langchain_share.py

Runs each runnable the way the floor calls it (same config: a fresh run id) and
prints instructions per call, measured by toggling callgrind on this very process
(`callgrind_control`). RESULTS.md subtracts these from the servers' totals to see
what is left for the HTTP layer.
"""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.apps.runnables import routes

CALLS = 50


def control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)


def last_summary(prefix: str) -> int:
    dumps = sorted(Path("/tmp").glob(f"{prefix}.{os.getpid()}.*"), key=os.path.getmtime)
    for line in dumps[-1].read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError("no summary line")


async def main() -> None:
    runnables = routes()
    lam, chat = runnables["/lambda"], runnables["/chat"]
    cases: dict[str, Callable[[], Awaitable[object]]] = {
        "invoke": lambda: lam.ainvoke(1, {"run_id": uuid.uuid4()}),
        "batch10": lambda: lam.abatch(
            list(range(10)), [{"run_id": uuid.uuid4()} for _ in range(10)]
        ),
        "chat": lambda: chat.ainvoke({"topic": "cats"}, {"run_id": uuid.uuid4()}),
    }
    control("-i", "on")
    for name, call in cases.items():
        for _ in range(3):
            await call()
        control("-z")
        for _ in range(CALLS):
            await call()
        control("-d")
        print(f"{name}: {last_summary('share') / CALLS:,.0f} instructions per call")


if __name__ == "__main__":
    asyncio.run(main())
