"""Apps served by the reliability tests (hostile input, fuzzing, disconnects, errors,
secrets, soak and shutdown).

`zoo_app` is a small zoo of route shapes for schema fuzzing and hostile input.
`probe_app` holds instrumented runnables that count, in `STATE`, the runs that
started, finished, were cancelled or had their generator's `finally` run; its
`/debug/state` route lets a test in another process read those counters and the
number of asyncio tasks still alive. `uvicorn tests.reliability_apps:probe_app`.
"""

# No `from __future__ import annotations`: langchain-core builds the input schemas
# from these functions' annotations at runtime.

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import (
    ConfigurableField,
    Runnable,
    RunnableGenerator,
    RunnableLambda,
)
from pydantic import BaseModel, Field

from langserve_like import add_routes
from langserve_like.exceptions import RunnableFailed

JOKE = "why did the chicken cross the road"
SECRET = "sk-secret-token-in-exception-text"  # must never reach a client
MAX_BODY = 64 * 1024
MAX_BATCH = 8
TICK = 0.02  # seconds between chunks of the slow streams

#: Counters of the probe runnables, read through GET /debug/state.
STATE: Counter[str] = Counter()


# --- the zoo ------------------------------------------------------------------------


class Question(BaseModel):
    """A typed object input."""

    text: str
    repeat: int = Field(default=1, ge=1, le=5)
    tags: list[str] = Field(default_factory=list)


def add_one(x: int) -> int:
    return x + 1


def answer(question: dict[str, Any]) -> str:
    return " ".join([str(question["text"])] * int(question.get("repeat", 1)))


def find_docs(query: str) -> list[Document]:
    return [Document(page_content=f"about {query}", metadata={"rank": 1})]


def reply_to(messages: list[AnyMessage]) -> list[AnyMessage]:
    return [*messages, AIMessage(content=f"you sent {len(messages)} messages")]


def chat_model() -> GenericFakeChatModel:
    # Strings, not a shared AIMessage: langchain-core writes the run id into the
    # message it is given, so a shared message would leak ids between requests.
    return GenericFakeChatModel(messages=itertools.cycle([JOKE]))


def zoo_routes() -> dict[str, Runnable[Any, Any]]:
    prompt = ChatPromptTemplate.from_messages([("human", "tell me a joke about {topic}")])
    configurable = PromptTemplate.from_template("Hello {name}!").configurable_fields(
        template=ConfigurableField(id="template", name="Template")
    )
    return {
        "/typed": RunnableLambda(add_one),
        "/chat": prompt | chat_model() | StrOutputParser(),
        "/model": RunnableLambda(answer).with_types(input_type=Question),
        "/configurable": configurable,
        "/messages": RunnableLambda(reply_to),
        "/documents": RunnableLambda(find_docs),
    }


def make_zoo_app() -> FastAPI:
    app = FastAPI()
    for path, runnable in zoo_routes().items():
        add_routes(app, runnable, path=path, max_body_size=MAX_BODY, max_batch_size=MAX_BATCH)
    # The same configurable prompt, but the server does not let clients configure it.
    add_routes(app, zoo_routes()["/configurable"], path="/locked", config_keys=())
    return app


zoo_app = make_zoo_app()


# --- instrumented runnables ---------------------------------------------------------


class RateLimitError(Exception):
    """Stands in for a model provider's rate-limit error."""

    retry_after = 7


class ContextLengthError(Exception):
    """Stands in for a provider's 'prompt too long' error."""


def map_provider_errors(exc: BaseException) -> RunnableFailed | None:
    if isinstance(exc, RateLimitError):
        return RunnableFailed(
            429, "The model provider is rate limiting", {"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, ContextLengthError):
        return RunnableFailed(400, "The input is longer than the model's context window")
    return None


async def ticks(inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
    """Streams one chunk every TICK seconds, up to the `count` it is given."""
    count = 0
    async for value in inputs:
        count = int(value.get("count", 10_000)) if isinstance(value, dict) else 10_000
    STATE["stream_started"] += 1
    try:
        for i in range(count):
            yield f"tick {i} "
            await asyncio.sleep(TICK)
        STATE["stream_completed"] += 1
    except asyncio.CancelledError:
        STATE["stream_cancelled"] += 1
        raise
    finally:
        STATE["stream_finally"] += 1


async def slow_first_chunk(inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
    """Waits a minute before its first chunk: a client leaves before the stream starts."""
    async for _ in inputs:
        pass
    STATE["first_chunk_started"] += 1
    try:
        await asyncio.sleep(60)
        yield "too late"
    finally:
        STATE["first_chunk_finally"] += 1


async def slow_invoke(text: str) -> str:
    STATE["invoke_started"] += 1
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        STATE["invoke_cancelled"] += 1
        raise
    return text


async def echo(text: str) -> str:
    return text


async def fail(kind: str) -> str:
    if kind == "rate_limit":
        raise RateLimitError(f"429 from provider, key {SECRET}")
    if kind == "context":
        raise ContextLengthError(f"prompt too long for {SECRET}")
    raise ValueError(f"unexpected failure with {SECRET}")


async def fail_midway(inputs: AsyncIterator[str]) -> AsyncIterator[str]:
    kind = ""
    async for text in inputs:
        kind = text
    yield "partial "
    await fail(kind)


async def debug_state() -> dict[str, Any]:
    return {"counters": dict(STATE), "tasks": len(asyncio.all_tasks())}


def make_probe_app(*, expose_error_messages: bool = False) -> FastAPI:
    app = FastAPI()
    options: dict[str, Any] = {
        "max_body_size": MAX_BODY,
        "max_batch_size": MAX_BATCH,
        "error_mapper": map_provider_errors,
        "expose_error_messages": expose_error_messages,
    }
    add_routes(app, RunnableGenerator(ticks), path="/ticks", **options)
    add_routes(app, RunnableGenerator(slow_first_chunk), path="/slow_start", **options)
    add_routes(app, RunnableLambda(slow_invoke), path="/slow_invoke", **options)
    add_routes(app, RunnableLambda(echo), path="/echo", **options)
    add_routes(app, RunnableLambda(fail), path="/fail", **options)
    add_routes(app, RunnableGenerator(fail_midway), path="/fail_midway", **options)
    add_routes(
        app,
        ChatPromptTemplate.from_messages([("human", "{topic}")]) | chat_model(),
        path="/chat",
        include_callback_events=True,
        **options,
    )
    app.add_api_route("/debug/state", debug_state, methods=["GET"])
    return app


probe_app = make_probe_app()
exposing_probe_app = make_probe_app(expose_error_messages=True)
