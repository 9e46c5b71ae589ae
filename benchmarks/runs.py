"""Threads and background runs: latency and throughput through LangGraph's own SDK.

    .venv/bin/python benchmarks/runs.py            # about a minute

Starts one uvicorn serving `benchmarks/apps/runs_app.py` (a one-node graph with
`runs=True`, a fresh SQLite file) pinned to core 0, drives it from core 1 with the
async `langgraph_sdk` client, and prints:

- create-and-wait on an existing thread (`runs.wait`), p50 and p90;
- time to the first streamed event (`runs.stream`, the `metadata` event), p50;
- runs/s with 8 concurrent clients, each waiting on runs of its own thread;
- the in-process floor: the same graph with LangGraph's SQLite checkpointer, no HTTP.

Run by hand, never in CI; figures go to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langgraph_sdk import get_client  # noqa: E402

from tests.servers import run_uvicorn  # noqa: E402


def _ms(samples: list[float], q: float) -> float:
    return round(statistics.quantiles(samples, n=100)[int(q) - 1] * 1000, 2)


async def create_and_wait(url: str, n: int) -> list[float]:
    client = get_client(url=url)
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "trivial", input={"n": 0})  # warm-up
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await client.runs.wait(tid, "trivial", input={"n": 0})
        samples.append(time.perf_counter() - start)
    return samples


async def first_event(url: str, n: int) -> list[float]:
    client = get_client(url=url)
    tid = (await client.threads.create())["thread_id"]
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        async for _part in client.runs.stream(tid, "trivial", input={"n": 0}):
            samples.append(time.perf_counter() - start)
            break
        # The rest of the run: let it finish before the next one is created.
        runs = await client.runs.list(tid, limit=1)
        await client.runs.join(tid, runs[0]["run_id"])
    return samples


async def throughput(url: str, clients: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal done
        client = get_client(url=url)
        tid = (await client.threads.create())["thread_id"]
        while time.perf_counter() < deadline:
            await client.runs.wait(tid, "trivial", input={"n": 0})
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return done / (time.perf_counter() - start)


async def in_process_floor(n: int) -> list[float]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from benchmarks.apps.runs_app import graph

    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncSqliteSaver.from_conn_string(f"{tmp}/floor.db") as saver:
            bound = graph.copy(update={"checkpointer": saver})
            config = {"configurable": {"thread_id": "t"}}
            await bound.ainvoke({"n": 0}, config, durability="sync")
            samples = []
            for _ in range(n):
                start = time.perf_counter()
                await bound.ainvoke({"n": 0}, config, durability="sync")
                samples.append(time.perf_counter() - start)
            return samples


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"BENCH_RUNS_DB": f"{tmp}/runs.db"}
        with run_uvicorn(
            "benchmarks.apps.runs_app:app", env=env, extra_args=["--loop", "asyncio"]
        ) as url:
            if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
                os.sched_setaffinity(0, {1})
            wait = await create_and_wait(url, args.n)
            first = await first_event(url, args.n // 2)
            rate = await throughput(url, 8, args.seconds)
    floor = await in_process_floor(args.n)
    print(f"create-and-wait p50 {_ms(wait, 50)} ms, p90 {_ms(wait, 90)} ms (n={len(wait)})")
    print(f"first streamed event p50 {_ms(first, 50)} ms (n={len(first)})")
    print(f"throughput, 8 clients: {rate:.1f} runs/s over {args.seconds:.0f} s")
    print(f"in-process floor (ainvoke + SQLite checkpointer) p50 {_ms(floor, 50)} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="samples per latency figure")
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput duration")
    asyncio.run(main(parser.parse_args()))
