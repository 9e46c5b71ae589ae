"""The least any library can do on a FastAPI app: raw ASGI routes, nothing else.

Not a server anyone should run: no validation, no config, no error handling, no
disconnect handling, no schemas. It reads the body, calls `ainvoke` / `abatch` with
a fresh run id per input and writes orjson, through the same FastAPI app (its
middleware and router) as the other servers. What it costs is the part of a request
that no library mounted on FastAPI can avoid with this langchain-core; the
benchmark measures it under callgrind only (`run.py`, "bare" rows).
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from benchmarks.apps.runnables import routes

app = FastAPI()
_Run = Callable[[Any], Awaitable[tuple[Any, dict[str, Any]]]]


def _raw_route(path: str, run: _Run) -> None:
    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        output, metadata = await run(orjson.loads(body))
        payload = orjson.dumps({"output": output, "metadata": metadata})
        length = str(len(payload)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    route = Route(path, asgi, methods=["POST"])
    route.app = asgi  # no Request object, no request_response wrapper
    app.router.routes.append(route)


def _serve(path: str, runnable: Any) -> None:
    async def invoke(body: Any) -> tuple[Any, dict[str, Any]]:
        run_id = uuid.uuid4()
        return await runnable.ainvoke(body["input"], {"run_id": run_id}), {"run_id": str(run_id)}

    async def batch(body: Any) -> tuple[Any, dict[str, Any]]:
        run_ids = [uuid.uuid4() for _ in body["inputs"]]
        outputs = await runnable.abatch(body["inputs"], [{"run_id": r} for r in run_ids])
        return outputs, {"run_ids": [str(r) for r in run_ids]}

    _raw_route(f"{path}/invoke", invoke)
    _raw_route(f"{path}/batch", batch)


for _path, _runnable in routes().items():
    if _path in ("/lambda", "/chat", "/lambda_sync"):
        _serve(_path, _runnable)
