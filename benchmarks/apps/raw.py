"""The raw Starlette route: the practical limit for any library on this stack.

Raw ASGI endpoints mounted as Starlette routes on a FastAPI app (the app every other
server here is mounted on): read the JSON body, call the runnable with a fresh run
id, and write orjson, for invoke and batch a JSON answer, for the three streams the
same SSE frames as LangServe (metadata, one `data` frame per item, end), one
`send` per frame. No validation, no config, no error handling, no disconnect watch,
no schemas, no playground: nobody should serve this, but whatever a library costs
above it is what the library adds. `run.py` reports every row as a ratio to it.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from benchmarks.apps.runnables import routes

_Run = Callable[[Any], Awaitable[tuple[Any, dict[str, Any]]]]
_Items = Callable[[Any, dict[str, Any]], AsyncIterator[Any]]
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]
_END = b"event: end\r\n\r\n"


async def _read_json(receive: Receive) -> Any:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return orjson.loads(body)


def _mount(
    app: FastAPI, path: str, asgi: Callable[[Scope, Receive, Send], Awaitable[None]]
) -> None:
    route = Route(path, asgi, methods=["POST"])
    route.app = asgi  # no Request object, no request_response wrapper
    app.router.routes.append(route)


def json_route(app: FastAPI, path: str, run: _Run) -> None:
    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        output, metadata = await run(await _read_json(receive))
        payload = orjson.dumps({"output": output, "metadata": metadata})
        length = str(len(payload)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    _mount(app, path, asgi)


def sse_route(app: FastAPI, path: str, items: _Items) -> None:
    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_json(receive)
        run_id = uuid.uuid4()
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        metadata = orjson.dumps({"run_id": str(run_id)})
        frame = b"event: metadata\r\ndata: " + metadata + b"\r\n\r\n"
        await send({"type": "http.response.body", "body": frame, "more_body": True})
        async for item in items(body["input"], {"run_id": run_id}):
            frame = b"event: data\r\ndata: " + orjson.dumps(item) + b"\r\n\r\n"
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": _END})

    _mount(app, path, asgi)


def serve_json(app: FastAPI, path: str, runnable: Any) -> None:
    """`path`/invoke and `path`/batch."""

    async def invoke(body: Any) -> tuple[Any, dict[str, Any]]:
        run_id = uuid.uuid4()
        return await runnable.ainvoke(body["input"], {"run_id": run_id}), {"run_id": str(run_id)}

    async def batch(body: Any) -> tuple[Any, dict[str, Any]]:
        run_ids = [uuid.uuid4() for _ in body["inputs"]]
        outputs = await runnable.abatch(body["inputs"], [{"run_id": r} for r in run_ids])
        return outputs, {"run_ids": [str(r) for r in run_ids]}

    json_route(app, f"{path}/invoke", invoke)
    json_route(app, f"{path}/batch", batch)


def serve_streams(app: FastAPI, path: str, runnable: Any) -> None:
    """`path`/stream, `path`/stream_events and `path`/stream_log."""

    async def log_ops(value: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        async for patch in runnable.astream_log(value, config, diff=True):
            yield {"ops": patch.ops}

    def events(value: Any, config: dict[str, Any]) -> AsyncIterator[Any]:
        return runnable.astream_events(value, config, version="v2")  # type: ignore[no-any-return]

    sse_route(app, f"{path}/stream", runnable.astream)
    sse_route(app, f"{path}/stream_events", events)
    sse_route(app, f"{path}/stream_log", log_ops)


app = FastAPI()
for _path, _runnable in routes().items():
    if _path in ("/lambda", "/chat", "/lambda_sync"):
        serve_json(app, _path, _runnable)
    else:
        serve_streams(app, _path, _runnable)
