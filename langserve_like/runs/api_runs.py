"""The runs endpoints: create, stream, wait, join, rejoin, list, get, cancel, delete."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from langserve_like.runs import queue
from langserve_like.runs.api_models import CancelMany, RunCreate
from langserve_like.runs.db import Conn, loads
from langserve_like.runs.engine import Engine
from langserve_like.runs.events import Event
from langserve_like.runs.shapes import run_to_api
from langserve_like.runs.sse import EventStream, WaitResponse

__all__ = ["runs_router"]

# Module level: FastAPI resolves these (postponed) annotations in the module's globals.
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
LastId = Annotated[str | None, Header(alias="Last-Event-ID")]
ALWAYS = frozenset({"metadata", "error", "end"})
KEEPALIVE_EVERY = 5.0


def _mode_of(event: str) -> str:
    base = event.split("|", 1)[0]
    if base == "messages":
        return "messages-tuple"
    return "messages" if base.startswith("messages/") else base


def _wanted(event: Event, modes: frozenset[str] | None) -> bool:
    return modes is None or event.event in ALWAYS or _mode_of(event.event) in modes


def _parse_modes(raw: list[str]) -> frozenset[str] | None:
    """`stream_mode` as repeated parameters or as one JSON array."""
    modes: list[str] = []
    for item in raw:
        if item.startswith("["):
            try:
                modes.extend(str(m) for m in orjson.loads(item))
            except orjson.JSONDecodeError as exc:
                raise HTTPException(422, "stream_mode: not a JSON array") from exc
        elif item:  # the SDK sends `stream_mode=` for "all of them"
            modes.append(item)
    return frozenset(modes) or None


def _last_event_id(header: str | None) -> int | None:
    if header is None or header == "":
        return None
    try:
        return int(header)
    except ValueError as exc:
        raise HTTPException(422, "Last-Event-ID: expected an event id from this run") from exc


def _result(row: Any) -> tuple[int, Any]:
    """The body of `wait` and `join`: the values, or `__error__`."""
    if row is None:
        return 404, {"detail": "Run not found (deleted or rolled back)"}
    if row["status"] == "error":
        return 200, {"__error__": loads(row["error"])}
    return 200, loads(row["output"])


class _Runs:
    def __init__(self, engine: Engine, prefix: str) -> None:
        self.engine = engine
        self.prefix = prefix

    def url(self, row: Any) -> str:
        tid = row["thread_id"]
        return (
            f"{self.prefix}/threads/{tid}/runs/{row['run_id']}"
            if tid
            else (f"{self.prefix}/runs/{row['run_id']}")
        )

    async def create(self, body: RunCreate, thread_id: str | None, key: str | None) -> Any:
        engine = self.engine
        assistant = engine.registry.get(body.assistant_id)
        if assistant is None:
            raise HTTPException(404, f"assistant_id: no assistant {body.assistant_id!r}")
        if thread_id is not None and not assistant.stateful:
            raise HTTPException(
                422,
                f"assistant_id: {body.assistant_id!r} is not a LangGraph graph; it has "
                "stateless runs only (POST /runs)",
            )
        new = queue.NewRun(
            graph_id=assistant.graph_id,
            kwargs=body.kwargs(),
            thread_id=thread_id,
            metadata=body.metadata or {},
            multitask_strategy=body.multitask_strategy,
            if_not_exists=body.if_not_exists,
            idempotency_key=key,
            after_ms=int((body.after_seconds or 0) * 1000),
            max_failures=engine.options.max_failures,
        )
        try:
            row, _ = await engine.create_run(new)
        except queue.NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        except queue.Conflict as exc:
            raise HTTPException(409, str(exc)) from exc
        return row

    async def stream(
        self,
        row: Any,
        after: int | None,
        modes: frozenset[str] | None,
        cancel_on_disconnect: bool,
        status: int = 200,
    ) -> Response:
        run_id = row["run_id"]
        start = after if after is not None else await self._live_tail(row)

        async def frames() -> AsyncIterator[bytes]:
            # Closed with the response, not left to the collector: a subscription held on
            # for a client that left is what a reconnect storm would pile up.
            async with contextlib.aclosing(self.engine.events.subscribe(run_id, start)) as events:
                async for event in events:
                    if _wanted(event, modes):
                        yield event.frame()

        async def left() -> None:
            if cancel_on_disconnect:
                await self.engine.cancel(run_id, "interrupt")

        url = self.url(row)
        headers = {"Location": f"{url}/stream", "Content-Location": url}
        response = EventStream(frames(), headers=headers, on_disconnect=left)
        response.status_code = status
        return response

    async def _live_tail(self, row: Any) -> int:
        """No `Last-Event-ID`: events from now on (a finished run still sends `end`)."""
        last = await self.engine.events.last_seq(row["run_id"])
        fresh = await self.engine.get_run(row["run_id"])
        if fresh is None or fresh["status"] not in queue.IN_FLIGHT:
            return max(0, last - 1)
        return last

    async def wait(self, row: Any, keepalive: bool, cancel_on_disconnect: bool) -> Response:
        run_id = row["run_id"]
        headers = {"Location": f"{self.url(row)}/join", "Content-Location": self.url(row)}

        # Waiting from now on: while the run is still this process's to execute
        # (created and claimed in one step), its end is awaited without a read.
        ended = asyncio.ensure_future(self.engine.wait_terminal(run_id))

        async def result() -> tuple[int, bytes]:
            status, body = _result(await ended)
            # With keepalive the status line may go out before the run ends: always 200.
            return (status if not keepalive else 200), orjson.dumps(body)

        async def left() -> None:
            if cancel_on_disconnect:
                await self.engine.cancel(run_id, "interrupt")

        every = KEEPALIVE_EVERY if keepalive else None
        return WaitResponse(result(), headers=headers, on_disconnect=left, keepalive_every=every)


class _Endpoints(_Runs):
    """The endpoints, as methods so each stays short; `runs_router` lists their paths."""

    async def thread_run(self, thread_id: str, run_id: str) -> Any:
        row = await self.engine.get_run(run_id, thread_id)
        if row is None:
            raise HTTPException(404, f"Run {run_id} not found on thread {thread_id}")
        return row

    async def create_thread_run(
        self, thread_id: str, body: RunCreate, key: IdemKey = None
    ) -> Response:
        row = await self.create(body, thread_id, key)
        return JSONResponse(run_to_api(row), headers={"Content-Location": self.url(row)})

    async def create_run(self, body: RunCreate, key: IdemKey = None) -> Response:
        row = await self.create(body, None, key)
        return JSONResponse(run_to_api(row), headers={"Content-Location": self.url(row)})

    async def create_batch(self, bodies: list[RunCreate]) -> list[dict[str, Any]]:
        return [run_to_api(await self.create(body, None, None)) for body in bodies]

    async def stream_thread_run(
        self, thread_id: str, body: RunCreate, key: IdemKey = None, last_id: LastId = None
    ) -> Response:
        row = await self.create(body, thread_id, key)
        after = _last_event_id(last_id) or 0
        return await self.stream(row, after, None, body.on_disconnect == "cancel")

    async def stream_run(self, body: RunCreate, key: IdemKey = None) -> Response:
        row = await self.create(body, None, key)
        return await self.stream(row, 0, None, body.on_disconnect == "cancel")

    async def wait_thread_run(
        self, thread_id: str, body: RunCreate, key: IdemKey = None, keepalive: bool = True
    ) -> Response:
        row = await self.create(body, thread_id, key)
        return await self.wait(row, keepalive, body.on_disconnect == "cancel")

    async def wait_run(
        self, body: RunCreate, key: IdemKey = None, keepalive: bool = True
    ) -> Response:
        row = await self.create(body, None, key)
        return await self.wait(row, keepalive, body.on_disconnect == "cancel")

    async def list_runs(
        self,
        thread_id: str,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        offset: Annotated[int, Query(ge=0)] = 0,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        def read(conn: Conn) -> list[Any]:
            where, args = "thread_id = ?", [thread_id]
            if status:
                where, args = where + " AND status = ?", [*args, status]
            return conn.execute(
                f"SELECT * FROM lsl_runs WHERE {where} ORDER BY created_at DESC, run_id DESC"
                " LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()

        return [run_to_api(r) for r in await self.engine.db.read(read)]

    async def get_run(self, thread_id: str, run_id: str) -> dict[str, Any]:
        return run_to_api(await self.thread_run(thread_id, run_id))

    async def get_stateless_run(self, run_id: str) -> dict[str, Any]:
        row = await self.engine.get_run(run_id)
        if row is None:
            raise HTTPException(404, f"Run {run_id} not found")
        return run_to_api(row)

    async def delete_run(self, thread_id: str, run_id: str) -> Response:
        row = await self.thread_run(thread_id, run_id)
        if row["status"] in queue.IN_FLIGHT:
            raise HTTPException(409, "The run is pending or running; cancel it first")

        def delete(conn: Conn) -> None:
            conn.execute("DELETE FROM lsl_runs WHERE run_id = ?", (run_id,))

        await self.engine.db.write(delete)
        return Response(status_code=204)

    async def join(self, thread_id: str, run_id: str) -> Response:
        await self.thread_run(thread_id, run_id)
        status, body = _result(await self.engine.wait_terminal(run_id))
        return JSONResponse(body, status_code=status)

    async def join_stateless(self, run_id: str) -> Response:
        status, body = _result(await self.engine.wait_terminal(run_id))
        return JSONResponse(body, status_code=status)

    async def rejoin(
        self,
        thread_id: str,
        run_id: str,
        last_id: LastId = None,
        stream_mode: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies it)
        cancel_on_disconnect: bool = False,
        replay: str | None = None,
    ) -> Response:
        row = await self.thread_run(thread_id, run_id)
        after = 0 if replay == "all" else _last_event_id(last_id)
        return await self.stream(row, after, _parse_modes(stream_mode), cancel_on_disconnect)

    async def rejoin_stateless(self, run_id: str, last_id: LastId = None) -> Response:
        row = await self.engine.get_run(run_id)
        if row is None:
            raise HTTPException(404, f"Run {run_id} not found")
        return await self.stream(row, _last_event_id(last_id), None, False)

    async def cancel_many(
        self,
        body: CancelMany,
        action: Annotated[str, Query(pattern="^(interrupt|rollback)$")] = "interrupt",
    ) -> Response:
        def select(conn: Conn) -> list[str]:
            where: list[str] = ["status IN ('pending', 'running')"]
            args: list[str] = []
            if body.status and body.status != "all":
                where, args = ["status = ?"], [body.status]
            if body.thread_id:
                where.append("thread_id = ?")
                args.append(body.thread_id)
            if body.run_ids:
                where.append(f"run_id IN ({','.join('?' * len(body.run_ids))})")
                args.extend(body.run_ids)
            sql = f"SELECT run_id FROM lsl_runs WHERE {' AND '.join(where)}"
            return [r[0] for r in conn.execute(sql, args)]

        for run_id in await self.engine.db.read(select):
            await self.engine.cancel(run_id, action)
        return Response(status_code=204)

    async def cancel(
        self,
        thread_id: str,
        run_id: str,
        wait: bool = False,
        action: Annotated[str, Query(pattern="^(interrupt|rollback)$")] = "interrupt",
    ) -> Response:
        await self.thread_run(thread_id, run_id)
        await self.engine.cancel(run_id, action)
        if wait:
            await self.engine.wait_terminal(run_id)
            return Response(status_code=204)
        return Response(status_code=202)


def runs_router(engine: Engine, prefix: str) -> APIRouter:
    api = _Endpoints(engine, prefix)
    router = APIRouter(prefix=prefix, tags=["runs"])
    for method, path, name in (
        ("POST", "/threads/{thread_id}/runs", "create_thread_run"),
        ("POST", "/runs", "create_run"),
        ("POST", "/runs/batch", "create_batch"),
        ("POST", "/threads/{thread_id}/runs/stream", "stream_thread_run"),
        ("POST", "/runs/stream", "stream_run"),
        ("POST", "/threads/{thread_id}/runs/wait", "wait_thread_run"),
        ("POST", "/runs/wait", "wait_run"),
        ("GET", "/threads/{thread_id}/runs", "list_runs"),
        ("GET", "/threads/{thread_id}/runs/{run_id}", "get_run"),
        ("GET", "/runs/{run_id}", "get_stateless_run"),
        ("DELETE", "/threads/{thread_id}/runs/{run_id}", "delete_run"),
        ("GET", "/threads/{thread_id}/runs/{run_id}/join", "join"),
        ("GET", "/runs/{run_id}/join", "join_stateless"),
        ("GET", "/threads/{thread_id}/runs/{run_id}/stream", "rejoin"),
        ("GET", "/runs/{run_id}/stream", "rejoin_stateless"),
        ("POST", "/runs/cancel", "cancel_many"),
        ("POST", "/threads/{thread_id}/runs/{run_id}/cancel", "cancel"),
    ):
        router.add_api_route(path, getattr(api, name), methods=[method])
    return router
