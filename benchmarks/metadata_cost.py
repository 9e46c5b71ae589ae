"""What LangServe's run metadata costs inside LangChain, per run, under callgrind.

    python benchmarks/metadata_cost.py

Counts instructions of `RunnableLambda.ainvoke` with and without the three run
metadata keys in the config, and of `AsyncCallbackManager.configure` (the callback
setup every run does) with and without them, 20 and 1,000 calls each, collected
only inside `sys.call_tracing` as `request_inproc.py` does.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
METADATA = {"__useragent": None, "__langserve_version": "0", "__langserve_endpoint": "invoke"}
CASES = {"ainvoke": 20, "ainvoke+metadata": 20, "configure": 1000, "configure+metadata": 1000}


def measure(case: str) -> None:
    from langchain_core.callbacks.manager import AsyncCallbackManager
    from langchain_core.runnables import RunnableConfig, RunnableLambda

    async def add_one(x: int) -> int:
        return x + 1

    runnable = RunnableLambda(add_one)
    with_metadata = case.endswith("+metadata")
    count = CASES[case]

    def config() -> RunnableConfig:
        built = RunnableConfig(configurable={}, run_id=uuid.uuid4())
        if with_metadata:
            built["metadata"] = dict(METADATA)
        return built

    async def runs(n: int) -> None:
        for _ in range(n):
            await runnable.ainvoke(1, config())

    def configures(n: int) -> None:
        metadata = METADATA if with_metadata else None
        for _ in range(n):
            AsyncCallbackManager.configure(inheritable_metadata=metadata)

    if case.startswith("ainvoke"):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(runs(5))  # warm, not collected
        sys.call_tracing(loop.run_until_complete, (runs(count),))
    else:
        configures(5)
        sys.call_tracing(configures, (count,))


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        measure(sys.argv[2])
        return 0
    OUT.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    totals: dict[str, Any] = {}
    for case in CASES:
        out = OUT / f"metadata_cost.{case}.callgrind"
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no"]
        cmd += ["--toggle-collect=sys_call_tracing", f"--callgrind-out-file={out}"]
        cmd += [sys.executable, __file__, "--measure", case]
        subprocess.run(
            cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for line in out.read_text().splitlines():
            if line.startswith("totals:"):
                totals[case] = int(line.split()[1]) / CASES[case]
    print("| call | without metadata | with metadata | difference |")
    print("|---|---:|---:|---:|")
    for name in ("ainvoke", "configure"):
        bare, full = totals[name], totals[f"{name}+metadata"]
        print(f"| {name} | {bare:,.0f} | {full:,.0f} | {full - bare:+,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
