r"""Example 4: a tool-calling agent; the model asks for tools, real tools run.

Serves `/agent`: input `{"input": str}`, output `{"output": str, "steps": [...]}`.
The agent loop is plain LCEL: an async generator in a `RunnableLambda` that calls the
model, runs the tools it asks for (a safe calculator and a km/miles converter) and
calls the model again with their results. It yields `AddableDict` chunks, so
`/stream` shows each tool step and then the answer token by token, while `/invoke`
returns the merged result. `/stream_events` shows every model and tool run.

Without an API key the model is a scripted subclass of langchain-core's
`GenericFakeChatModel`: it emits tool calls for the arithmetic and distances it finds
in the question, then answers from the tool results. With `OPENAI_API_KEY` set it is
a real model through `init_chat_model` with the tools bound
(`pip install langchain langchain-openai`; `EXAMPLE_MODEL` picks another).

Run one of:

    python examples/04_agent.py
    langserve-like serve examples/04_agent.py:app

Then:

    curl -N http://127.0.0.1:8000/agent/stream -H 'Content-Type: application/json' \
      -d '{"input": {"input": "What is 12 * (3 + 4), and how far is 42 km in miles?"}}'
    curl -N http://127.0.0.1:8000/agent/stream_events -H 'Content-Type: application/json' \
      -d '{"input": {"input": "What is 2 ** 10?"}}'
    curl http://127.0.0.1:8000/agent/invoke -H 'Content-Type: application/json' \
      -d '{"input": {"input": "What is 2 ** 10?"}}'
"""

from __future__ import annotations

import ast
import json
import operator
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_chunk_to_message,
)
from langchain_core.messages.tool import tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.runnables.utils import AddableDict
from langchain_core.tools import BaseTool, ToolException, tool
from pydantic import BaseModel

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


TOOLS: dict[str, BaseTool] = {t.name: t for t in (calculator, convert_distance)}
for _tool in TOOLS.values():
    _tool.handle_tool_error = True  # a ToolException goes back to the model as text

# --- the model: scripted fake, or a real one ----------------------------------------

_EXPRESSION = re.compile(r"\(*\d[\d\s.()]*(?:(?:\*\*|[-+*/])[\d\s.()]+)+")
_DISTANCE = re.compile(r"(\d+(?:\.\d+)?)\s*(km|kilomet\w+|miles?|mi)\b", re.IGNORECASE)


def scripted_reply(messages: list[BaseMessage]) -> AIMessage:
    """Tool calls for a new question; an answer once the tool results are in."""
    if isinstance(messages[-1], ToolMessage):
        results = []
        for message in reversed(messages):
            if not isinstance(message, ToolMessage):
                break
            results.insert(0, message.text)
        return AIMessage(content="Here is what my tools say: " + "; ".join(results) + ".")
    question = messages[-1].text
    calls: list[dict[str, Any]] = [
        {"name": "calculator", "args": {"expression": match.group().strip()}}
        for match in _EXPRESSION.finditer(question)
    ]
    calls += [
        {"name": "convert_distance", "args": {"value": float(value), "unit": unit[:2].lower()}}
        for value, unit in _DISTANCE.findall(question)
    ]
    if not calls:
        return AIMessage(content="I can do arithmetic and convert km to miles. Try: 2 ** 10?")
    return AIMessage(
        content="",
        tool_calls=[tool_call(**c, id=f"call_{uuid.uuid4().hex[:12]}") for c in calls],
    )


class ScriptedAgentModel(GenericFakeChatModel):
    """langchain-core's fake chat model, scripted by `scripted_reply`; streams tool calls."""

    messages: Iterator[AIMessage | str] = iter(())

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
        chunk = AIMessageChunk(content="", tool_call_chunks=chunks, chunk_position="last")
        yield ChatGenerationChunk(message=chunk)


def chat_model() -> Runnable[Any, BaseMessage]:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain.chat_models import init_chat_model  # pip install langchain

        real: BaseChatModel = init_chat_model(os.environ.get("EXAMPLE_MODEL", "openai:gpt-4o-mini"))
        return real.bind_tools(list(TOOLS.values()))
    return ScriptedAgentModel()


# --- the agent loop ------------------------------------------------------------------

MAX_STEPS = 5
model = chat_model()


class AgentInput(BaseModel):
    input: str


class Step(BaseModel):
    tool: str
    args: dict[str, Any]
    result: str


class AgentOutput(BaseModel):
    output: str
    steps: list[Step]


async def run_agent(inputs: dict[str, Any], config: RunnableConfig) -> AsyncIterator[AddableDict]:
    """Yields {"steps": [step]} per tool run and {"output": token} per answer token;
    AddableDict chunks add up to the final {"output": ..., "steps": [...]}."""
    messages: list[BaseMessage] = [
        SystemMessage("Use the tools for arithmetic and distances."),
        HumanMessage(inputs["input"]),
    ]
    for _ in range(MAX_STEPS):
        reply: AIMessageChunk | None = None
        async for chunk in model.astream(messages, config):
            assert isinstance(chunk, AIMessageChunk)
            reply = chunk if reply is None else reply + chunk
            if chunk.text:
                yield AddableDict(output=chunk.text)
        assert reply is not None
        messages.append(message_chunk_to_message(reply))
        if not reply.tool_calls:
            return
        for call in reply.tool_calls:
            found = TOOLS.get(call["name"])
            result = (
                await found.ainvoke({**call, "type": "tool_call"}, config)
                if found
                else ToolMessage(f"unknown tool {call['name']!r}", tool_call_id=call["id"])
            )
            messages.append(result)
            step = {"tool": call["name"], "args": call["args"], "result": result.text}
            yield AddableDict(steps=[step])
    yield AddableDict(output=f"(stopped after {MAX_STEPS} model calls)")


agent = RunnableLambda(run_agent, name="agent").with_types(
    input_type=AgentInput, output_type=AgentOutput
)

app = FastAPI(title="Tool-calling agent", description="model + tools in an LCEL loop")
add_routes(app, agent, path="/agent")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
