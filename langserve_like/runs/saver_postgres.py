"""The runs' PostgreSQL checkpointer: LangGraph's `PostgresSaver` over a connection
pool, each async call one hop to a thread of its own (see `saver`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from langgraph.checkpoint.postgres import PostgresSaver
from psycopg_pool import ConnectionPool

from langserve_like.runs.saver import AsyncShell

__all__ = ["ThreadPostgresSaver"]

T = TypeVar("T")


class ThreadPostgresSaver(AsyncShell, PostgresSaver):
    def __init__(self, pool: ConnectionPool[Any], threads: ThreadPoolExecutor) -> None:
        super().__init__(pool)
        # Its lock keeps a single connection to one user at a time; over a pool
        # each call takes a connection of its own, so the lock would only queue
        # every run's checkpoints behind one another.
        self.lock = contextlib.nullcontext()  # type: ignore[assignment]
        self.threads = threads

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.threads, partial(fn, *args))
