"""The runs' checkpointers: LangGraph's sync checkpointers, one thread hop per call.

LangGraph's async SQLite checkpointer goes through aiosqlite, which hops to its
connection's thread for every statement, cursor and fetch (a dozen hops per
super-step), all under one lock that every run's reads and writes queue behind,
on a second connection whose commits wait on the runs' writer for the file's
write lock (and it on them). On a busy or shared machine each hop waits for the
scheduler and the GIL, each lock conflict sleeps in SQLite's busy handler, so
runs spent most of their time waiting while the CPU sat idle. `ThreadSqliteSaver`
keeps LangGraph's own SQL and schema (`SqliteSaver`: same tables, same rows) and
runs each whole call on the runs' writer thread and connection instead.

LangGraph's async PostgreSQL checkpointer awaits every statement of a call on the
event loop (a socket wait, a selector registration and a task wake-up apiece, for
the checkpoints and writes of every super-step) and still hops to a thread to
serialise the blobs. `saver_postgres.ThreadPostgresSaver` runs `PostgresSaver`'s
calls whole on threads of their own, where socket waits block with the GIL released.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver

from langserve_like.runs.db_sqlite import SqliteDatabase

__all__ = ["AsyncShell", "ThreadSqliteSaver"]

T = TypeVar("T")


class AsyncShell(BaseCheckpointSaver[str]):
    """LangGraph's async checkpointer methods, each one call of the sync method
    through `_call`; `_atomic` wraps the calls of several statements."""

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    def _atomic(self, fn: Callable[..., None]) -> Callable[..., None]:
        return fn

    if TYPE_CHECKING:  # both sync checkpointers have it; defined here it would shadow theirs

        def setup(self) -> None: ...

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
        await self._call(self._atomic(self.put_writes), config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._call(self._atomic(self.delete_thread), thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        def read() -> Mapping[str, DeltaChannelHistory]:
            return self.get_delta_channel_history(config=config, channels=channels)

        return await self._call(read)


class ThreadSqliteSaver(AsyncShell, SqliteSaver):
    """`SqliteSaver` whose async calls are each one step on the writer thread.

    The writer connection is in autocommit mode: SqliteSaver's own commit ends
    the transaction that calls of several statements open here.
    """

    def __init__(self, db: SqliteDatabase) -> None:
        super().__init__(db.writer)
        self.db = db

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.db.on_writer(partial(fn, *args))

    def _atomic(self, fn: Callable[..., None]) -> Callable[..., None]:
        return partial(self._in_one_transaction, fn)

    def _in_one_transaction(self, fn: Callable[..., None], *args: Any) -> None:
        """`fn`'s statements in one transaction, which SqliteSaver's commit ends
        (in autocommit mode each statement would be a commit of its own)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            fn(*args)
        finally:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
