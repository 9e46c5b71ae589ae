"""The LangGraph-compatible API of one app: assistants, /ok, /info, the store,
plus the threads and runs routers."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from langserve_like.runs.api_models import AssistantSearch
from langserve_like.runs.api_runs import runs_router
from langserve_like.runs.api_threads import threads_router
from langserve_like.runs.db import Conn, now_ms
from langserve_like.runs.engine import Engine
from langserve_like.runs.graph import Assistant, to_jsonable

__all__ = ["build_router"]

PING_TIMEOUT = 5.0  # /ok answers within this even when the database hangs


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PutItem(_Body):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    index: Any = None
    ttl: float | None = None


class DeleteItem(_Body):
    namespace: list[str]
    key: str


class SearchItems(_Body):
    namespace_prefix: list[str] = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    query: str | None = None


class ListNamespaces(_Body):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = Field(default=None, ge=1)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


def _item(item: Any) -> dict[str, Any]:
    out = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }
    if hasattr(item, "score"):
        out["score"] = item.score
    return out


def build_router(engine: Engine, prefix: str) -> APIRouter:
    async def started() -> None:
        if not engine.started:
            raise HTTPException(
                503,
                "The runs engine has not started: serve the app with its lifespan "
                "(uvicorn does; use TestClient as a context manager)",
            )

    router = APIRouter(dependencies=[Depends(started)])
    router.include_router(_assistants_router(engine, prefix))
    router.include_router(threads_router(engine, prefix))
    router.include_router(runs_router(engine, prefix))
    router.include_router(_store_router(engine, prefix))
    router.include_router(_health_router(engine, prefix))
    return router


def _assistants_router(engine: Engine, prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["assistants"])

    def find(assistant_id: str) -> Assistant:
        assistant = engine.registry.get(assistant_id)
        if assistant is None:
            raise HTTPException(404, f"Assistant {assistant_id} not found")
        return assistant

    def matching(body: AssistantSearch) -> list[Assistant]:
        return [
            a
            for a in engine.registry.all()
            if (body.graph_id is None or a.graph_id == body.graph_id)
            and (body.name is None or body.name in a.graph_id)
            and not any(
                a.to_api()["metadata"].get(k) != v for k, v in (body.metadata or {}).items()
            )
        ]

    @router.post("/assistants/search")
    async def search(body: AssistantSearch) -> list[dict[str, Any]]:
        return [a.to_api() for a in matching(body)[body.offset : body.offset + body.limit]]

    @router.post("/assistants/count")
    async def count(body: AssistantSearch) -> int:
        return len(matching(body))

    @router.get("/assistants/{assistant_id}")
    async def get(assistant_id: str) -> dict[str, Any]:
        return find(assistant_id).to_api()

    @router.get("/assistants/{assistant_id}/graph")
    async def graph(assistant_id: str, xray: int | bool = False) -> dict[str, Any]:
        return find(assistant_id).drawable(xray)

    @router.get("/assistants/{assistant_id}/schemas")
    async def schemas(assistant_id: str) -> dict[str, Any]:
        schemas: dict[str, Any] = to_jsonable(find(assistant_id).schemas())
        return schemas

    @router.get("/assistants/{assistant_id}/subgraphs")
    async def subgraphs(assistant_id: str) -> dict[str, Any]:
        find(assistant_id)
        return {}

    return router


def _store_router(engine: Engine, prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["store"])

    @router.put("/store/items", status_code=204)
    async def put(body: PutItem) -> Response:
        if not body.namespace or any("." in part or not part for part in body.namespace):
            raise HTTPException(422, "namespace: non-empty labels without '.'")
        await engine.store.aput(tuple(body.namespace), body.key, body.value, index=body.index)
        return Response(status_code=204)

    @router.get("/store/items")
    async def get(key: str, namespace: str = "") -> dict[str, Any]:
        item = await engine.store.aget(tuple(namespace.split(".")) if namespace else (), key)
        if item is None:
            raise HTTPException(404, f"No item {key!r} in namespace {namespace!r}")
        return _item(item)

    @router.delete("/store/items", status_code=204)
    async def delete(body: DeleteItem) -> Response:
        await engine.store.adelete(tuple(body.namespace), body.key)
        return Response(status_code=204)

    @router.post("/store/items/search")
    async def search(body: SearchItems) -> dict[str, Any]:
        items = await engine.store.asearch(
            tuple(body.namespace_prefix),
            query=body.query,
            filter=body.filter,
            limit=body.limit,
            offset=body.offset,
        )
        return {"items": [_item(i) for i in items]}

    @router.post("/store/namespaces")
    async def namespaces(body: ListNamespaces) -> dict[str, Any]:
        found = await engine.store.alist_namespaces(
            prefix=tuple(body.prefix) if body.prefix else None,
            suffix=tuple(body.suffix) if body.suffix else None,
            max_depth=body.max_depth,
            limit=body.limit,
            offset=body.offset,
        )
        return {"namespaces": [list(ns) for ns in found]}

    return router


def _health_router(engine: Engine, prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["health"])

    @router.get("/ok")
    async def ok(check_db: int = Query(default=0)) -> Response:
        try:
            engine.db.check_file()
            if check_db:
                # A fresh connection: the pool's may outlive the database they reach.
                await asyncio.wait_for(engine.db.ping(), PING_TIMEOUT)
            queue_state = await asyncio.wait_for(engine.db.read(_queue_state), PING_TIMEOUT)
        except (*engine.db.errors, asyncio.TimeoutError, OSError) as exc:  # type: ignore[misc]
            unhealthy = {"database": "unhealthy", "error": type(exc).__name__}
            return JSONResponse({"ok": False, "services": unhealthy}, status_code=503)
        channels, subscribers = engine.events.live_count()
        redis, broker = "skipped", engine.broker
        if broker is not None:
            subscribers += broker.listener_count()
            # Healthy: answering, and this process's pub/sub connection (its streams use it) is up.
            redis = "healthy" if broker.healthy and await broker.ping() else "unhealthy"
        services = {
            "database": "healthy",
            "redis": redis,
            "queue": queue_state,
            "streams": {"channels": channels, "subscribers": subscribers},
            # What a leak would grow: a reconnect storm must leave these where they were.
            "process": {"tasks": len(asyncio.all_tasks()), "open_files": _open_files()},
        }
        if redis == "unhealthy" and engine.options.require_redis:
            return JSONResponse({"ok": False, "services": services}, status_code=503)
        return JSONResponse({"ok": True, "services": services})

    @router.get("/info")
    async def info() -> dict[str, Any]:
        from langserve_like import __version__

        return {
            "version": __version__,
            "langgraph_py_version": _version("langgraph"),
            "flags": {"assistants": True, "crons": False, "langsmith": False, "store": True},
            "host": {"kind": "langserve_like", "runs": engine.db.dialect},
        }

    return router


def _open_files() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux
        return None


def _queue_state(conn: Conn) -> dict[str, Any]:
    pending, running, oldest = conn.execute(
        "SELECT sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'running' THEN 1 ELSE 0 END),"
        " min(CASE WHEN status = 'pending' THEN created_at END) FROM lsl_runs"
        " WHERE status IN ('pending', 'running')"
    ).fetchone()
    oldest_s = 0.0 if oldest is None else round((now_ms() - oldest) / 1000, 3)
    return {"pending": pending or 0, "running": running or 0, "oldest_pending_s": oldest_s}


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
