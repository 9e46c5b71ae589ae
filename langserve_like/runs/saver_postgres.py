"""The runs' PostgreSQL checkpointer: LangGraph's `PostgresSaver`, one thread hop per call.

LangGraph's async PostgreSQL checkpointer awaits every statement of a call on the
event loop (a socket wait, a selector registration and a task wake-up apiece, for
the three checkpoints and their writes of every super-step) and still hops to a
thread to serialise the blobs. Run whole on a thread of its own, a call costs one
hop, and its socket waits block that thread with the GIL released. Same SQL, same
tables and rows (`PostgresSaver`), as `saver.ThreadSqliteSaver` is for SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg_pool import ConnectionPool

__all__ = ["ThreadPostgresSaver"]

T = TypeVar("T")


class ThreadPostgresSaver(PostgresSaver):
    """`PostgresSaver` over a connection pool, its async methods each one call on
    a thread of `threads`."""

    def __init__(self, pool: ConnectionPool[Any], threads: ThreadPoolExecutor) -> None:
        super().__init__(pool)
        # Its lock keeps a single connection to one user at a time; over a pool
        # each call takes a connection of its own, so the lock would only queue
        # every run's checkpoints behind one another.
        self.lock = contextlib.nullcontext()  # type: ignore[assignment]
        self.threads = threads

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.threads, partial(fn, *args, **kwargs))

    async def asetup(self) -> None:
        await self._call(self.setup)

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
        return await self._call(self.get_delta_channel_history, config=config, channels=channels)
