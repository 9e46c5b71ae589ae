"""Threads and background runs: latency and throughput through LangGraph's own SDK.

    .venv/bin/python benchmarks/runs.py            # about a minute

Starts one uvicorn serving `benchmarks/apps/runs_app.py` (a one-node graph with
`runs=True`, a fresh SQLite file) pinned to core 0, drives it from core 1 with the
async `langgraph_sdk` client, and prints:

- create-and-wait on an existing thread (`runs.wait`), p50 and p90;
- time to the first streamed event (`runs.stream`, the `metadata` event), p50;
- runs/s with 8 concurrent clients, each waiting on runs of its own thread, after
  `--warmup` seconds (2) of the same load (the pools open their connections);
- the in-process floor: the same graph with LangGraph's SQLite checkpointer
  (`AsyncSqliteSaver`), no HTTP; and beside it the same with the engine's own
  checkpointer (LangGraph's `SqliteSaver` on the runs' writer thread).

`--http httptools --loop uvloop` serves with uvicorn's compiled HTTP parser and
event loop (`uvicorn[standard]`; the default is its pure-Python h11 and asyncio).
`--workers 2` serves with `uvicorn --workers 2` on the one SQLite file (then
neither process is pinned). Server and client CPU seconds per run are printed
too: on a shared machine they move less than the wall-clock figures.

`--database postgresql://...` serves from that PostgreSQL database instead (and
`--redis redis://...` streams through Redis): the floor is then LangGraph's
`AsyncPostgresSaver` on the same database, and the database's committed
transactions per run during the throughput phase are printed too (from
`pg_stat_database`, read once the server has exited so every backend has flushed
its counters).

Run by hand, never in CI; figures go to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


async def _floor(saver: Any, n: int) -> list[float]:
    from benchmarks.apps.runs_app import graph

    bound = graph.copy(update={"checkpointer": saver})
    config: Any = {"configurable": {"thread_id": "t"}}
    await bound.ainvoke({"n": 0}, config, durability="sync")
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await bound.ainvoke({"n": 0}, config, durability="sync")
        samples.append(time.perf_counter() - start)
    return samples


async def in_process_floor(n: int) -> list[float]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncSqliteSaver.from_conn_string(f"{tmp}/floor.db") as saver:
            return await _floor(saver, n)


async def engine_saver_floor(n: int) -> list[float]:
    from langserve_like.runs.db_sqlite import SqliteDatabase
    from langserve_like.runs.saver import ThreadSqliteSaver

    with tempfile.TemporaryDirectory() as tmp:
        db = SqliteDatabase(Path(tmp) / "floor.db")
        try:
            saver = ThreadSqliteSaver(db)
            await saver.asetup()
            return await _floor(saver, n)
        finally:
            db.close()


async def postgres_floor(url: str, n: int) -> list[float]:
    """The floor on PostgreSQL: LangGraph's saver with the pool settings it documents."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    async with AsyncConnectionPool(url, min_size=1, max_size=2, kwargs=kwargs, open=False) as pool:
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await saver.setup()
        return await _floor(saver, n)


def _pg_transactions(url: str) -> int:
    """Transactions committed and rolled back in `url`'s database so far (every
    autocommit statement is one): what the server has flushed to its statistics."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]) - 1  # this very query


async def _settle_pg_stats() -> None:
    """Idle backends flush their statistics within PostgreSQL's idle interval (10 s)."""
    await asyncio.sleep(11)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn's workers)."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


async def main(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    xacts: int | None = None
    with tempfile.TemporaryDirectory() as tmp:
        env = {"BENCH_RUNS_DB": args.database or f"{tmp}/runs.db"}
        if args.redis:
            env["BENCH_RUNS_REDIS"] = args.redis
        extra = ["--loop", args.loop, "--http", args.http]
        if args.workers > 1:
            extra += ["--workers", str(args.workers)]
        with run_uvicorn("benchmarks.apps.runs_app:app", env=env, extra_args=extra) as url:
            if args.workers == 1 and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
                os.sched_setaffinity(0, {1})
            wait = await create_and_wait(url, args.n)
            first = await first_event(url, args.n // 2)
            (server,) = _children(os.getpid())  # the uvicorn run_uvicorn started
            # Steady state: the pools' connections opened (and, on PostgreSQL, their
            # backends' caches warm) under the 8 clients' load before it is timed.
            await throughput(url, 8, args.warmup)
            if args.database:
                await _settle_pg_stats()
                xacts = _pg_transactions(args.database)
            cpu_before, mine_before = _cpu_seconds(server), time.process_time()
            rate = await throughput(url, 8, args.seconds)
            runs = rate * args.seconds
            server_cpu = (_cpu_seconds(server) - cpu_before) / runs * 1000
            client_cpu = (time.process_time() - mine_before) / runs * 1000
    if args.database and xacts is not None:
        xacts = _pg_transactions(args.database) - xacts  # the server has exited: all flushed
        await report_postgres(
            args, load_before, wait, first, rate, (server_cpu, client_cpu), xacts / runs
        )
        return
    floor = await in_process_floor(args.n)
    try:
        engine_floor: list[float] | None = await engine_saver_floor(args.n)
    except ImportError:  # a checkout from before the engine had its own checkpointer
        engine_floor = None
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"uvicorn --http {args.http} --loop {args.loop} --workers {args.workers}")
    print(f"create-and-wait p50 {_ms(wait, 50)} ms, p90 {_ms(wait, 90)} ms (n={len(wait)})")
    print(f"first streamed event p50 {_ms(first, 50)} ms (n={len(first)})")
    print(
        f"throughput, 8 clients, {args.workers} server process(es): {rate:.1f} runs/s over "
        f"{args.seconds:.0f} s; CPU per run: server {server_cpu:.1f} ms, client {client_cpu:.1f} ms"
    )
    print(f"in-process floor (ainvoke + AsyncSqliteSaver) p50 {_ms(floor, 50)} ms")
    if engine_floor is not None:
        ms = _ms(engine_floor, 50)
        print(f"in-process floor (ainvoke + the engine's checkpointer) p50 {ms} ms")


async def report_postgres(
    args: argparse.Namespace,
    load_before: float,
    wait: list[float],
    first: list[float],
    rate: float,
    cpu: tuple[float, float],
    xacts_per_run: float,
) -> None:
    floor = await postgres_floor(args.database, args.n)
    print(f"PostgreSQL {args.database}, Redis {args.redis or 'none'}")
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"create-and-wait p50 {_ms(wait, 50)} ms, p90 {_ms(wait, 90)} ms (n={len(wait)})")
    print(f"first streamed event p50 {_ms(first, 50)} ms (n={len(first)})")
    print(
        f"throughput, 8 clients, {args.workers} server process(es): {rate:.1f} runs/s over "
        f"{args.seconds:.0f} s; CPU per run: server {cpu[0]:.1f} ms, client {cpu[1]:.1f} ms"
    )
    print(f"database transactions per run (throughput phase, pg_stat_database) {xacts_per_run:.1f}")
    print(f"in-process floor (ainvoke + AsyncPostgresSaver) p50 {_ms(floor, 50)} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="samples per latency figure")
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput duration")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of the 8-client load before timing it"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    # The defaults are uvicorn's pure-Python stack, what a plain `pip install uvicorn`
    # serves with; `--http httptools --loop uvloop` is `uvicorn[standard]`'s.
    parser.add_argument("--http", default="h11", help="uvicorn --http (h11 or httptools)")
    parser.add_argument("--loop", default="asyncio", help="uvicorn --loop (asyncio or uvloop)")
    parser.add_argument("--database", help="a postgresql:// URL to serve from (default: SQLite)")
    parser.add_argument("--redis", help="a redis:// URL for the streams (with --database)")
    asyncio.run(main(parser.parse_args()))
