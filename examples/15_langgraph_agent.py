r"""Example 15: a LangGraph tool-calling agent served with add_routes.

Serves `/agent`: a compiled `StateGraph` over `{"messages": [...]}` with two nodes,
`model` (a chat model with the tools bound) and `tools` (LangGraph's `ToolNode`
running a real calculator and a km/miles converter), looping until the model
answers without a tool call. The run context (`context_schema`) carries the user's
name, which the system prompt uses; clients send it as the body's `context`.

What a graph route serves: `/invoke` returns the final state, `/stream` per-node
updates (or any LangGraph `stream_mode`: values, updates, messages, custom),
`/stream_events` every node, model token and tool run, `/context_schema` the
context's JSON schema. Inputs are partial states: send only `messages`.

Without an API key the model is a scripted subclass of langchain-core's
`GenericFakeChatModel` that emits tool calls for the arithmetic and distances in
the question, then answers from the tool results. With `OPENAI_API_KEY` set it is a
real model through `init_chat_model` (`pip install langchain langchain-openai`).
Needs `pip install "langserve-like[langgraph]"`.

Run one of:

    python examples/15_langgraph_agent.py
    langserve-like serve examples/15_langgraph_agent.py:app

Then:

    curl -N http://127.0.0.1:8000/agent/stream -H 'Content-Type: application/json' \
      -d '{"input": {"messages": [{"type": "human", "content": "What is 12 * (3 + 4)?"}]}}'
    curl -N http://127.0.0.1:8000/agent/stream -H 'Content-Type: application/json' \
      -d '{"input": {"messages": [{"type": "human", "content": "42 km in miles?"}]},
           "context": {"user_name": "Ada"}, "stream_mode": ["updates", "messages"]}'
    curl http://127.0.0.1:8000/agent/invoke -H 'Content-Type: application/json' \
      -d '{"input": {"messages": [{"type": "human", "content": "What is 2 ** 10?"}]}}'
"""

import ast
import json
import operator
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, ToolException, tool
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.runtime import Runtime
from typing_extensions import TypedDict  # typing.TypedDict is refused by pydantic < 3.12

from langserve_like import add_routes

# --- the tools: real code that really runs -------------------------------------------

_OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ToolException("exponent too large")
        return float(_OPERATORS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return float(_OPERATORS[type(node.op)](_evaluate(node.operand)))
    raise ToolException(f"unsupported expression: {ast.dump(node)[:80]}")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression with + - * / ** and parentheses."""
    try:
        value = _evaluate(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ZeroDivisionError, OverflowError) as exc:
        raise ToolException(f"cannot evaluate {expression!r}: {exc}") from None
    return f"{expression} = {value:g}"


@tool
def convert_distance(value: float, unit: str) -> str:
    """Convert a distance between kilometres (unit "km") and miles (unit "mi")."""
    if unit.lower().startswith("k"):
        return f"{value:g} km = {value / 1.609344:.1f} miles"
    return f"{value:g} miles = {value * 1.609344:.1f} km"


TOOLS: list[BaseTool] = [calculator, convert_distance]

# --- the model: scripted fake, or a real one ----------------------------------------

_EXPRESSION = re.compile(r"\(*\d[\d\s.()]*(?:(?:\*\*|[-+*/])[\d\s.()]+)+")
_DISTANCE = re.compile(r"(\d+(?:\.\d+)?)\s*(km|kilomet\w+|miles?|mi)\b", re.IGNORECASE)


def scripted_reply(messages: list[BaseMessage]) -> AIMessage:
    """Tool calls for a new question; an answer once the tool results are in."""
    greeting = messages[0].text.rsplit(" ", 1)[-1] if messages else "friend"
    if isinstance(messages[-1], ToolMessage):
        results = [m.text for m in messages if isinstance(m, ToolMessage)]
        return AIMessage(f"{greeting} here is what my tools say: {'; '.join(results)}.")
    question = messages[-1].text
    calls = [
        {"name": "calculator", "args": {"expression": match.group().strip()}}
        for match in _EXPRESSION.finditer(question)
    ]
    calls += [
        {"name": "convert_distance", "args": {"value": float(value), "unit": unit[:2].lower()}}
        for value, unit in _DISTANCE.findall(question)
    ]
    if not calls:
        return AIMessage(f"{greeting} I can do arithmetic and convert km to miles.")
    return AIMessage(
        "", tool_calls=[tool_call(**c, id=f"call_{uuid.uuid4().hex[:12]}") for c in calls]
    )


class ScriptedAgentModel(GenericFakeChatModel):
    """langchain-core's fake chat model, scripted by `scripted_reply`; streams tool calls."""

    messages: Iterator[AIMessage | str] = iter(())

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self  # the script knows the two tools

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=scripted_reply(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = scripted_reply(messages)
        if not reply.tool_calls:  # text: the parent streams it word by word
            yield from super()._stream(messages, stop, run_manager, **kwargs)
            return
        # The parent would drop tool calls when streaming; send them as one chunk.
        chunks = [
            tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
            for i, c in enumerate(reply.tool_calls)
        ]
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", tool_call_chunks=chunks, chunk_position="last")
        )


def chat_model() -> Runnable[LanguageModelInput, BaseMessage]:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain.chat_models import init_chat_model  # pip install langchain

        real = init_chat_model(os.environ.get("EXAMPLE_MODEL", "openai:gpt-4o-mini"))
        return real.bind_tools(TOOLS)
    return ScriptedAgentModel().bind_tools(TOOLS)


# --- the graph -----------------------------------------------------------------------


class AgentState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


@dataclass
class Context:
    user_name: str = "friend"


model = chat_model()


async def call_model(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    name = runtime.context.user_name if runtime.context else "friend"
    system = SystemMessage(f"Use the tools for arithmetic and distances. Greet {name}")
    return {"messages": [await model.ainvoke([system, *state["messages"]])]}


builder = StateGraph(AgentState, context_schema=Context)
builder.add_node("model", call_model)
builder.add_node("tools", ToolNode(TOOLS, handle_tool_errors=True))
builder.add_edge(START, "model")
builder.add_conditional_edges("model", tools_condition, ["tools", END])
builder.add_edge("tools", "model")
graph = builder.compile()

app = FastAPI(title="LangGraph agent", description="a tool-calling StateGraph")
add_routes(app, graph, path="/agent")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
