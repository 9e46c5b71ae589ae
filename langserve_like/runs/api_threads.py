"""The threads endpoints: CRUD, search, copy, state and history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response

from langserve_like.runs import threads
from langserve_like.runs.api_models import (
    CheckpointRequest,
    HistoryRequest,
    StateUpdate,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from langserve_like.runs.db import loads
from langserve_like.runs.engine import Engine
from langserve_like.runs.graph import Assistant, state_to_api
from langserve_like.runs.queue import Conflict
from langserve_like.runs.shapes import thread_to_api

__all__ = ["threads_router"]


class _Endpoints:
    """The endpoints, as methods so each stays short; `threads_router` lists their paths."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def thread_row(self, thread_id: str) -> Any:
        row = await self.engine.db.read(lambda c: threads.get(c, thread_id))
        if row is None:
            raise HTTPException(404, f"Thread {thread_id} not found")
        return row

    async def graph_of(self, thread_id: str) -> Assistant:
        row = await self.thread_row(thread_id)
        graph_id = row["graph_id"] or (loads(row["metadata"]) or {}).get("graph_id")
        stateful = [a for a in self.engine.registry.all() if a.stateful]
        assistant = self.engine.registry.get(graph_id) if graph_id else None
        if assistant is None and len(stateful) == 1:
            assistant = stateful[0]
        if assistant is None or not assistant.stateful:
            raise HTTPException(404, f"Thread {thread_id} has no graph to read its state with")
        return assistant

    @staticmethod
    def config(thread_id: str, checkpoint: dict[str, Any] | None = None) -> dict[str, Any]:
        configurable = {**(checkpoint or {}), "thread_id": thread_id}
        configurable.setdefault("checkpoint_ns", "")
        return {"configurable": {k: v for k, v in configurable.items() if v is not None}}

    async def create(self, body: ThreadCreate) -> dict[str, Any]:
        graph_id = body.graph_id or body.metadata.get("graph_id")
        try:
            row = await self.engine.db.write(
                lambda c: threads.create(c, body.thread_id, body.metadata, body.if_exists, graph_id)
            )
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from exc
        return thread_to_api(row)

    async def search(self, body: ThreadSearch) -> list[dict[str, Any]]:
        rows = await self.engine.db.read(lambda c: threads.search(c, body.model_dump()))
        return [thread_to_api(r) for r in rows]

    async def count(self, body: ThreadSearch) -> int:
        return await self.engine.db.read(lambda c: threads.count(c, body.model_dump()))

    async def get(self, thread_id: str) -> dict[str, Any]:
        return thread_to_api(await self.thread_row(thread_id))

    async def patch(self, thread_id: str, body: ThreadPatch) -> dict[str, Any]:
        row = await self.engine.db.write(lambda c: threads.patch(c, thread_id, body.metadata))
        if row is None:
            raise HTTPException(404, f"Thread {thread_id} not found")
        return thread_to_api(row)

    async def delete(self, thread_id: str) -> Response:
        try:
            running = await self.engine.db.write(lambda c: threads.delete(c, thread_id))
        except KeyError as exc:
            raise HTTPException(404, f"Thread {thread_id} not found") from exc
        for run_id in running:  # their fenced finish now finds no row and writes nothing
            self.engine.worker.stop_run(run_id, "lost")
        return Response(status_code=204)

    async def copy(self, thread_id: str) -> dict[str, Any]:
        row = await self.engine.db.write(lambda c: threads.copy(c, thread_id))
        if row is None:
            raise HTTPException(404, f"Thread {thread_id} not found")
        return thread_to_api(row)

    async def state(self, thread_id: str, subgraphs: bool = False) -> dict[str, Any]:
        graph = (await self.graph_of(thread_id)).bound
        return state_to_api(await graph.aget_state(self.config(thread_id), subgraphs=subgraphs))

    async def state_at(
        self, thread_id: str, checkpoint_id: str, subgraphs: bool = False
    ) -> dict[str, Any]:
        graph = (await self.graph_of(thread_id)).bound
        at = self.config(thread_id, {"checkpoint_id": checkpoint_id})
        return state_to_api(await graph.aget_state(at, subgraphs=subgraphs))

    async def state_at_checkpoint(self, thread_id: str, body: CheckpointRequest) -> dict[str, Any]:
        graph = (await self.graph_of(thread_id)).bound
        at = self.config(thread_id, body.checkpoint)
        return state_to_api(await graph.aget_state(at, subgraphs=body.subgraphs))

    async def update_state(self, thread_id: str, body: StateUpdate) -> dict[str, Any]:
        assistant = await self.graph_of(thread_id)
        checkpoint = {**(body.checkpoint or {})}
        if body.checkpoint_id:
            checkpoint["checkpoint_id"] = body.checkpoint_id
        try:
            written = await assistant.bound.aupdate_state(
                self.config(thread_id, checkpoint), body.values, as_node=body.as_node
            )
        except (ValueError, KeyError) as exc:
            raise HTTPException(422, f"values: {type(exc).__name__}: {exc}") from exc
        snapshot = await self.engine.thread_snapshot(assistant, thread_id)
        await self.engine.db.write(lambda c: threads.set_values(c, thread_id, snapshot))
        conf = written["configurable"]
        return {"checkpoint": {**conf, "checkpoint_map": conf.get("checkpoint_map")}}

    async def history(self, thread_id: str, body: HistoryRequest) -> list[dict[str, Any]]:
        graph = (await self.graph_of(thread_id)).bound
        before = body.before
        if isinstance(before, str):
            before = {"checkpoint_id": before}
        states = []
        async for snapshot in graph.aget_state_history(
            self.config(thread_id, body.checkpoint),
            filter=body.metadata,
            before=self.config(thread_id, before) if before else None,
            limit=body.limit,
        ):
            states.append(state_to_api(snapshot))
        return states


def threads_router(engine: Engine, prefix: str) -> APIRouter:
    api = _Endpoints(engine)
    router = APIRouter(prefix=prefix, tags=["threads"])
    for method, path, name in (
        ("POST", "/threads", "create"),
        ("POST", "/threads/search", "search"),
        ("POST", "/threads/count", "count"),
        ("GET", "/threads/{thread_id}", "get"),
        ("PATCH", "/threads/{thread_id}", "patch"),
        ("DELETE", "/threads/{thread_id}", "delete"),
        ("POST", "/threads/{thread_id}/copy", "copy"),
        ("GET", "/threads/{thread_id}/state", "state"),
        ("GET", "/threads/{thread_id}/state/{checkpoint_id}", "state_at"),
        ("POST", "/threads/{thread_id}/state/checkpoint", "state_at_checkpoint"),
        ("POST", "/threads/{thread_id}/state", "update_state"),
        ("POST", "/threads/{thread_id}/history", "history"),
    ):
        router.add_api_route(path, getattr(api, name), methods=[method])
    return router
