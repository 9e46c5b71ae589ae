"""The app of the Redis tests, served by real uvicorn processes (configured by environment).

LSL_RUNS_DB: the SQLite file every replica shares. LSL_WORKERS: 0 for an API-only
replica. REDIS_URI: the Redis the replicas share. LSL_REQUIRE_REDIS=1: /ok is 503
while Redis is away.

`gated` runs until the test lets it: its `wait1` and `wait2` nodes each wait for
a file the test creates (`<gate>.1`, `<gate>.2`, paths from the input), so a
test knows the run is still running while it reads the first events.
"""

from __future__ import annotations

import asyncio
import operator
import os
from typing import Annotated, Any

from fastapi import FastAPI
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from langserve_like import Runs, add_routes


class Gated(TypedDict):
    gate: str
    log: Annotated[list[str], operator.add]


def talk(name: str, count: int) -> Any:
    async def node(state: Gated) -> dict[str, Any]:
        write = get_stream_writer()
        for i in range(count):
            write({"node": name, "i": i})
        return {"log": [name]}

    return node


def wait_for(suffix: str) -> Any:
    async def node(state: Gated) -> dict[str, Any]:
        path = state["gate"] + suffix
        # The test opens the gate by creating the file; a node has no other signal.
        while not os.path.exists(path):
            await asyncio.sleep(0.02)
        return {"log": [f"opened{suffix}"]}

    return node


builder = StateGraph(Gated)
builder.add_node("start", talk("start", 3))
builder.add_node("wait1", wait_for(".1"))
builder.add_node("middle", talk("middle", 3))
builder.add_node("wait2", wait_for(".2"))
builder.add_node("finish", talk("finish", 20))
builder.add_edge(START, "start").add_edge("start", "wait1").add_edge("wait1", "middle")
builder.add_edge("middle", "wait2").add_edge("wait2", "finish").add_edge("finish", END)
gated = builder.compile()

runs = Runs(
    database=os.environ.get("LSL_RUNS_DB"),
    workers=int(os.environ.get("LSL_WORKERS", "8")),
    lease_ttl=float(os.environ.get("LSL_LEASE_TTL", "30")),
    heartbeat=float(os.environ.get("LSL_HEARTBEAT", "10")),
    reaper_interval=float(os.environ.get("LSL_REAPER", "10")),
    require_redis=os.environ.get("LSL_REQUIRE_REDIS") == "1",
    shutdown_grace=float(os.environ.get("LSL_GRACE", "10")),
)
app = FastAPI()
add_routes(app, gated, path="/gated", runs=runs)
