"""The runs' checkpointer: LangGraph's SQLite checkpointer, one thread hop per call.

LangGraph's async SQLite checkpointer goes through aiosqlite, which hops to its
connection's thread for every statement, cursor and fetch (a dozen hops per
super-step), all under one lock that every run's reads and writes queue behind.
On a busy or shared machine each hop waits for the scheduler and for the GIL,
so runs spent most of their time waiting while the CPU sat idle. This saver
keeps LangGraph's own SQL and schema (`SqliteSaver`, same tables, same rows) and
runs each whole call on one dedicated thread instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver

__all__ = ["ThreadSqliteSaver"]

T = TypeVar("T")


class ThreadSqliteSaver(SqliteSaver):
    """`SqliteSaver` with its async methods, each call one step on its own thread."""

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        # Python's default (deferred) transactions: SqliteSaver commits each call.
        conn = sqlite3.connect(path, check_same_thread=False, timeout=5.0)
        conn.execute("PRAGMA busy_timeout=5000")
        # Durable at the same level as the runs (NORMAL: no fsync per commit in WAL).
        conn.execute(f"PRAGMA synchronous={synchronous}")
        super().__init__(conn)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="lsl-checkpoints")

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def asetup(self) -> None:
        await self._call(self.setup)

    async def aclose(self) -> None:
        await self._call(self.conn.close)
        self._pool.shutdown(wait=True)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._call(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        def read() -> list[CheckpointTuple]:
            return list(self.list(config, filter=filter, before=before, limit=limit))

        for item in await self._call(read):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._call(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._call(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._call(self.delete_thread, thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        def read() -> Mapping[str, DeltaChannelHistory]:
            return self.get_delta_channel_history(config=config, channels=channels)

        return await self._call(read)
