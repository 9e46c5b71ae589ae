"""Apps served by a real uvicorn in the runs tests (configured by environment).

LSL_RUNS_DB: the SQLite file or the postgresql:// URL. LSL_WORKLOG: a file every
node of `steps` appends "<run_id> <node> start|end <pid> <monotonic time>" lines
to. LSL_STEP_SECONDS: how long each `steps` node works. LSL_LEASE_TTL,
LSL_HEARTBEAT, LSL_REAPER, LSL_POLL, LSL_GRACE, LSL_MAX_FAILURES, LSL_WORKERS: the
`Runs` options of the same names, short in the failure tests so that a lost
worker is noticed in seconds.
"""

from __future__ import annotations

import asyncio
import operator
import os
import time
from typing import Annotated, Any

from fastapi import FastAPI
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.types import interrupt
from typing_extensions import TypedDict

from langserve_like import Runs, add_routes


class Echo(TypedDict):
    messages: Annotated[list[str], operator.add]


def echo_node(state: Echo) -> dict[str, Any]:
    get_stream_writer()({"seen": len(state["messages"])})
    return {"messages": [f"echo: {state['messages'][-1]}"]}


echo = StateGraph(Echo).add_node("echo", echo_node).add_edge(START, "echo").compile()


def poison(state: Echo) -> dict[str, Any]:
    os._exit(1)  # kills the worker process: the run must not be retried forever


poisoned = StateGraph(Echo).add_node("poison", poison).add_edge(START, "poison").compile()

nested = StateGraph(Echo).add_node("inner", echo).add_edge(START, "inner").compile()


class Steps(TypedDict):
    steps: Annotated[list[str], operator.add]


def _log(config: RunnableConfig, node: str, what: str) -> None:
    path = os.environ.get("LSL_WORKLOG")
    if path:
        run_id = config["metadata"]["run_id"]
        # One write per line: processes append to one file without tearing lines.
        with open(path, "a") as log:
            log.write(f"{run_id} {node} {what} {os.getpid()} {time.monotonic():.6f}\n")


def step(name: str) -> Any:
    async def node(state: Steps, config: RunnableConfig) -> dict[str, Any]:
        _log(config, name, "start")
        # The work itself: a slow node, so a crash can land in the middle of it.
        await asyncio.sleep(float(os.environ.get("LSL_STEP_SECONDS", "0")))
        _log(config, name, "end")
        return {"steps": [name]}

    return node


steps_builder = StateGraph(Steps)
for name in ("a", "b", "c"):
    steps_builder.add_node(name, step(name))
steps_builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", END)
steps = steps_builder.compile()


async def hog(state: Steps, config: RunnableConfig) -> dict[str, Any]:
    _log(config, "hog", "start")
    # Blocks the event loop on purpose, as careless synchronous code in a node does.
    time.sleep(float(os.environ.get("LSL_BLOCK_SECONDS", "0")))
    _log(config, "hog", "end")
    return {"steps": ["hog"]}


blocking = StateGraph(Steps).add_node("hog", hog).add_edge(START, "hog").compile()


class Approval(TypedDict, total=False):
    request: str
    answer: str


def ask(state: Approval) -> dict[str, Any]:
    return {"answer": interrupt({"question": f"approve {state['request']}?"})}


approve = StateGraph(Approval).add_node("ask", ask).add_edge(START, "ask").compile()


def boom(state: Echo) -> dict[str, Any]:
    raise ValueError("secret-token-123 leaked?")


fail = StateGraph(Echo).add_node("boom", boom).add_edge(START, "boom").compile()


async def linger(state: Echo) -> dict[str, Any]:
    # Runs until cancelled: the run the multitask and cancel tests stop.
    await asyncio.sleep(float(os.environ.get("LSL_SLOW_SECONDS", "3600")))
    return {"messages": ["done"]}


slow = StateGraph(Echo).add_node("linger", linger).add_edge(START, "linger").compile()


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


async def talk(state: Chat) -> dict[str, Any]:
    model = GenericFakeChatModel(messages=iter([AIMessage("hello there friend")]))
    return {"messages": [await model.ainvoke(state["messages"])]}


chat = StateGraph(Chat).add_node("talk", talk).add_edge(START, "talk").compile()

upper = RunnableLambda(lambda text: str(text).upper())

runs = Runs(
    database=os.environ.get("LSL_RUNS_DB"),
    lease_ttl=float(os.environ.get("LSL_LEASE_TTL", "30")),
    heartbeat=float(os.environ.get("LSL_HEARTBEAT", "10")),
    workers=int(os.environ.get("LSL_WORKERS", "8")),
    reaper_interval=float(os.environ.get("LSL_REAPER", "10")),
    shutdown_grace=float(os.environ.get("LSL_GRACE", "10")),
    poll_interval=float(os.environ.get("LSL_POLL", "1")),
    max_failures=int(os.environ.get("LSL_MAX_FAILURES", "3")),
)
app = FastAPI()
add_routes(app, echo, path="/echo", runs=runs)
add_routes(app, steps, path="/steps", runs=runs)
add_routes(app, approve, path="/approve", runs=runs)
add_routes(app, fail, path="/fail", runs=runs)
add_routes(app, upper, path="/upper", runs=runs)
add_routes(app, slow, path="/slow", runs=runs)
add_routes(app, chat, path="/chat", runs=runs)
add_routes(app, blocking, path="/blocking", runs=runs)
add_routes(app, nested, path="/nested", runs=runs)
add_routes(app, poisoned, path="/poisoned", runs=runs)
