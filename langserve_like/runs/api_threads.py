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


def threads_router(engine: Engine, prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["threads"])

    async def thread_row(thread_id: str) -> Any:
        row = await engine.db.read(lambda c: threads.get(c, thread_id))
        if row is None:
            raise HTTPException(404, f"Thread {thread_id} not found")
        return row

    async def graph_of(thread_id: str) -> Assistant:
        row = await thread_row(thread_id)
        graph_id = row["graph_id"] or (loads(row["metadata"]) or {}).get("graph_id")
        stateful = [a for a in engine.registry.all() if a.stateful]
        assistant = engine.registry.get(graph_id) if graph_id else None
        if assistant is None and len(stateful) == 1:
            assistant = stateful[0]
        if assistant is None or not assistant.stateful:
            raise HTTPException(404, f"Thread {thread_id} has no graph to read its state with")
        return assistant

    def config(thread_id: str, checkpoint: dict[str, Any] | None = None) -> dict[str, Any]:
        configurable = {**(checkpoint or {}), "thread_id": thread_id}
        configurable.setdefault("checkpoint_ns", "")
        return {"configurable": {k: v for k, v in configurable.items() if v is not None}}

    @router.post("/threads")
    async def create(body: ThreadCreate) -> dict[str, Any]:
        graph_id = body.graph_id or body.metadata.get("graph_id")
        try:
            row = await engine.db.write(
                lambda c: threads.create(c, body.thread_id, body.metadata, body.if_exists, graph_id)
            )
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from exc
        return thread_to_api(row)

    @router.post("/threads/search")
    async def search(body: ThreadSearch) -> list[dict[str, Any]]:
        rows = await engine.db.read(lambda c: threads.search(c, body.model_dump()))
        return [thread_to_api(r) for r in rows]

    @router.post("/threads/count")
    async def count(body: ThreadSearch) -> int:
        return await engine.db.read(lambda c: threads.count(c, body.model_dump()))

    @router.get("/threads/{thread_id}")
    async def get(thread_id: str) -> dict[str, Any]:
        return thread_to_api(await thread_row(thread_id))

    @router.patch("/threads/{thread_id}")
    async def patch(thread_id: str, body: ThreadPatch) -> dict[str, Any]:
        row = await engine.db.write(lambda c: threads.patch(c, thread_id, body.metadata))
        if row is None:
            raise HTTPException(404, f"Thread {thread_id} not found")
        return thread_to_api(row)

    @router.delete("/threads/{thread_id}", status_code=204)
    async def delete(thread_id: str) -> Response:
        try:
            running = await engine.db.write(lambda c: threads.delete(c, thread_id))
        except KeyError as exc:
            raise HTTPException(404, f"Thread {thread_id} not found") from exc
        for run_id in running:  # their fenced finish now finds no row and writes nothing
            engine.worker.stop_run(run_id, "lost")
        return Response(status_code=204)

    @router.post("/threads/{thread_id}/copy")
    async def copy(thread_id: str) -> dict[str, Any]:
        row = await engine.db.write(lambda c: threads.copy(c, thread_id))
        if row is None:
            raise HTTPException(404, f"Thread {thread_id} not found")
        return thread_to_api(row)

    @router.get("/threads/{thread_id}/state")
    async def state(thread_id: str, subgraphs: bool = False) -> dict[str, Any]:
        graph = (await graph_of(thread_id)).bound
        return state_to_api(await graph.aget_state(config(thread_id), subgraphs=subgraphs))

    @router.get("/threads/{thread_id}/state/{checkpoint_id}")
    async def state_at(
        thread_id: str, checkpoint_id: str, subgraphs: bool = False
    ) -> dict[str, Any]:
        graph = (await graph_of(thread_id)).bound
        at = config(thread_id, {"checkpoint_id": checkpoint_id})
        return state_to_api(await graph.aget_state(at, subgraphs=subgraphs))

    @router.post("/threads/{thread_id}/state/checkpoint")
    async def state_at_checkpoint(thread_id: str, body: CheckpointRequest) -> dict[str, Any]:
        graph = (await graph_of(thread_id)).bound
        at = config(thread_id, body.checkpoint)
        return state_to_api(await graph.aget_state(at, subgraphs=body.subgraphs))

    @router.post("/threads/{thread_id}/state")
    async def update_state(thread_id: str, body: StateUpdate) -> dict[str, Any]:
        assistant = await graph_of(thread_id)
        checkpoint = {**(body.checkpoint or {})}
        if body.checkpoint_id:
            checkpoint["checkpoint_id"] = body.checkpoint_id
        try:
            written = await assistant.bound.aupdate_state(
                config(thread_id, checkpoint), body.values, as_node=body.as_node
            )
        except (ValueError, KeyError) as exc:
            raise HTTPException(422, f"values: {type(exc).__name__}: {exc}") from exc
        snapshot = await engine.thread_snapshot(assistant, thread_id)
        await engine.db.write(lambda c: threads.set_values(c, thread_id, snapshot))
        conf = written["configurable"]
        return {"checkpoint": {**conf, "checkpoint_map": conf.get("checkpoint_map")}}

    @router.post("/threads/{thread_id}/history")
    async def history(thread_id: str, body: HistoryRequest) -> list[dict[str, Any]]:
        graph = (await graph_of(thread_id)).bound
        before = body.before
        if isinstance(before, str):
            before = {"checkpoint_id": before}
        states = []
        async for snapshot in graph.aget_state_history(
            config(thread_id, body.checkpoint),
            filter=body.metadata,
            before=config(thread_id, before) if before else None,
            limit=body.limit,
        ):
            states.append(state_to_api(snapshot))
        return states

    return router
