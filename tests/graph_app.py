"""LangGraph graphs served by `add_routes`, for tests over a real socket.

`run_uvicorn("tests.graph_app:app")` serves:

* `/essay`: `write -> polish` over a TypedDict state `{topic, draft, final}`, with a
  dataclass `context_schema` (`audience`); `write` streams tokens from a fake chat
  model and writes a custom event;
* `/strict`: a graph that declares an `input_schema` whose `topic` is required;
* `/pause`: a graph whose node calls `interrupt()` (served without threads).

No `from __future__ import annotations`: TypedDict reads `NotRequired` at class creation.
"""

import itertools
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import HumanMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from typing_extensions import NotRequired, TypedDict

from langserve_like import add_routes


class Essay(TypedDict):
    topic: str
    draft: str
    final: str


@dataclass
class Audience:
    audience: str
    excited: bool = False


model = GenericFakeChatModel(messages=itertools.cycle(["a draft in five tokens"]))


async def write(state: Essay, runtime: Runtime[Audience]) -> dict[str, Any]:
    get_stream_writer()({"progress": "writing"})
    reply = await model.ainvoke([HumanMessage(f"Write about {state['topic']}")])
    audience = runtime.context.audience if runtime.context else "nobody"
    return {"draft": f"{reply.text} on {state['topic']} for {audience}"}


def polish(state: Essay, runtime: Runtime[Audience]) -> dict[str, Any]:
    excited = runtime.context is not None and runtime.context.excited
    return {"final": state["draft"].upper() + ("!" if excited else "")}


def essay_graph() -> Any:
    builder = StateGraph(Essay, context_schema=Audience)
    builder.add_node("write", write)
    builder.add_node("polish", polish)
    builder.add_edge(START, "write")
    builder.add_edge("write", "polish")
    builder.add_edge("polish", END)
    return builder.compile()


class StrictInput(TypedDict):
    topic: str
    draft: NotRequired[str]


def strict_graph() -> Any:
    builder = StateGraph(Essay, input_schema=StrictInput)
    builder.add_node("polish", lambda state: {"final": state["topic"].upper()})
    builder.add_edge(START, "polish")
    return builder.compile()


def ask(state: Essay) -> dict[str, Any]:
    return {"final": interrupt("Which topic?")}


def pause_graph() -> Any:
    builder = StateGraph(Essay)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    return builder.compile()


app = FastAPI()
add_routes(app, essay_graph(), path="/essay")
add_routes(app, strict_graph(), path="/strict")
add_routes(app, pause_graph(), path="/pause")
