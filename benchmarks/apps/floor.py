"""The floor: the FastAPI routes a careful user writes by hand for the same runnables.

The least a route can do and still answer like LangServe: read the JSON body, call
the runnable with `ainvoke` / `abatch` / `astream` / `astream_events` /
`astream_log` and a fresh run id, answer with `JSONResponse`, and stream through
sse-starlette's `EventSourceResponse` with `json.dumps` payloads, in LangServe's
frame sequence (metadata, data*, end). No input validation, no error handling, no
config, no schemas, no playground. (`request.json()` and `JSONResponse` rather than
a pydantic body model and a returned dict: measured, ~2% fewer instructions.)
`floor_orjson.py` is the same routes with orjson payloads.
"""

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette.sse import EventSourceResponse

from benchmarks.apps.runnables import routes


def build(dumps: Callable[[Any], str], answer: Callable[[Any], Response]) -> FastAPI:
    """The floor's app: `dumps` encodes a stream payload, `answer` an invoke/batch one."""
    app = FastAPI()
    runnables = routes()
    lambda_runnable = runnables["/lambda"]
    lambda_sync_runnable = runnables["/lambda_sync"]
    chat_runnable = runnables["/chat"]
    gen_runnable = runnables["/gen"]
    slow_runnable = runnables["/slow"]

    def event_stream(run_id: uuid.UUID, items: AsyncIterator[Any]) -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, str]]:
            yield {"event": "metadata", "data": dumps({"run_id": str(run_id)})}
            async for item in items:
                yield {"event": "data", "data": dumps(item)}
            yield {"event": "end"}

        return EventSourceResponse(events())

    @app.post("/lambda/invoke")
    async def lambda_invoke(request: Request) -> Response:
        body = await request.json()
        run_id = uuid.uuid4()
        output = await lambda_runnable.ainvoke(body["input"], {"run_id": run_id})
        return answer({"output": output, "metadata": {"run_id": str(run_id)}})

    @app.post("/lambda/batch")
    async def lambda_batch(request: Request) -> Response:
        body = await request.json()
        run_ids = [uuid.uuid4() for _ in body["inputs"]]
        configs: list[Any] = [{"run_id": run_id} for run_id in run_ids]
        outputs = await lambda_runnable.abatch(body["inputs"], configs)
        return answer({"output": outputs, "metadata": {"run_ids": [str(r) for r in run_ids]}})

    @app.post("/chat/invoke")
    async def chat_invoke(request: Request) -> Response:
        body = await request.json()
        run_id = uuid.uuid4()
        output = await chat_runnable.ainvoke(body["input"], {"run_id": run_id})
        return answer({"output": output, "metadata": {"run_id": str(run_id)}})

    @app.post("/gen/stream")
    async def gen_stream(request: Request) -> EventSourceResponse:
        body = await request.json()
        run_id = uuid.uuid4()
        return event_stream(run_id, gen_runnable.astream(body["input"], {"run_id": run_id}))

    @app.post("/gen/stream_events")
    async def gen_stream_events(request: Request) -> EventSourceResponse:
        body = await request.json()
        run_id = uuid.uuid4()
        events = gen_runnable.astream_events(body["input"], {"run_id": run_id}, version="v2")
        return event_stream(run_id, events)

    async def _ops(patches: AsyncIterator[Any]) -> AsyncIterator[dict[str, Any]]:
        async for patch in patches:
            yield {"ops": patch.ops}

    @app.post("/gen/stream_log")
    async def gen_stream_log(request: Request) -> EventSourceResponse:
        body = await request.json()
        run_id = uuid.uuid4()
        log = gen_runnable.astream_log(body["input"], {"run_id": run_id}, diff=True)
        return event_stream(run_id, _ops(log))

    @app.post("/slow/stream")
    async def slow_stream(request: Request) -> EventSourceResponse:
        body = await request.json()
        run_id = uuid.uuid4()
        return event_stream(run_id, slow_runnable.astream(body["input"], {"run_id": run_id}))

    @app.post("/lambda_sync/invoke")
    async def lambda_sync_invoke(request: Request) -> Response:
        body = await request.json()
        run_id = uuid.uuid4()
        output = await lambda_sync_runnable.ainvoke(body["input"], {"run_id": run_id})
        return answer({"output": output, "metadata": {"run_id": str(run_id)}})

    @app.post("/lambda_sync/batch")
    async def lambda_sync_batch(request: Request) -> Response:
        body = await request.json()
        run_ids = [uuid.uuid4() for _ in body["inputs"]]
        configs: list[Any] = [{"run_id": run_id} for run_id in run_ids]
        outputs = await lambda_sync_runnable.abatch(body["inputs"], configs)
        return answer({"output": outputs, "metadata": {"run_ids": [str(r) for r in run_ids]}})

    return app


app = build(lambda obj: json.dumps(obj, default=str), JSONResponse)
