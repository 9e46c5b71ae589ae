"""Two apps in one process keep their own langserve_like state: the requests in flight
that an app's shutdown waits for, and the timer that watches for disconnects."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from langchain_core.runnables import RunnableLambda

from langserve_like import APIHandler, add_routes
from langserve_like.server.lifecycle import drain


def _app(started: asyncio.Event, release: asyncio.Event) -> tuple[FastAPI, APIHandler]:
    async def wait(x: int) -> int:
        started.set()
        await release.wait()
        return x

    app = FastAPI()
    handler = add_routes(app, RunnableLambda(wait), path="/wait")
    return app, handler


@pytest.mark.anyio
async def test_app_state_in_flight_requests_count_against_their_own_app() -> None:
    started_a, started_b, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    app_a, handler_a = _app(started_a, release)
    app_b, handler_b = _app(started_b, release)
    state_a, state_b = handler_a.state, handler_b.state
    transport = httpx.ASGITransport(app=app_a)
    async with httpx.AsyncClient(transport=transport, base_url="http://a") as client:
        request = asyncio.ensure_future(client.post("/wait/invoke", json={"input": 1}))
        await started_a.wait()
        # App A's shutdown would wait for its request; app B has nothing in flight.
        assert not await drain(state_a, timeout=0)
        assert await drain(state_b, timeout=0)
        release.set()
        response = await request
    assert response.json()["output"] == 1
    assert await drain(state_a, timeout=0)


@pytest.mark.anyio
async def test_app_state_disconnect_sweepers_are_per_app() -> None:
    release = asyncio.Event()
    release.set()
    handlers = []
    for name in ("a", "b"):
        app, handler = _app(asyncio.Event(), release)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
            assert (await client.post("/wait/invoke", json={"input": 2})).status_code == 200
        handlers.append(handler)
    sweepers = [h.state.sweeper for h in handlers]
    assert None not in sweepers
    assert sweepers[0] is not sweepers[1]
