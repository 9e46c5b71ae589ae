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
import os
import socket
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
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
_T = TypeVar("_T")

#: Counters of the probe runnables, read through GET /debug/state.
STATE: Counter[str] = Counter()
MARKER_FILE = os.environ.get("RELIABILITY_MARKER_FILE")


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
    """The route shapes the OpenAPI document is fuzzed with."""
    prompt = ChatPromptTemplate.from_messages([("human", "tell me a joke about {topic}")])
    greeting = PromptTemplate.from_template("Hello {name}!").configurable_alternatives(
        ConfigurableField(id="greeting", name="Greeting"),
        default_key="hello",
        bye=PromptTemplate.from_template("Bye {name}!"),
    )
    return {
        "/typed": RunnableLambda(add_one),
        "/chat": prompt | chat_model() | StrOutputParser(),
        "/model": RunnableLambda(answer).with_types(input_type=Question),  # type: ignore[arg-type]
        "/configurable": greeting,
        "/messages": RunnableLambda(reply_to),
        "/documents": RunnableLambda(find_docs),
    }


def configurable_template() -> Runnable[Any, Any]:
    return PromptTemplate.from_template("Hello {name}!").configurable_fields(
        template=ConfigurableField(id="template", name="Template")
    )


def make_zoo_app(*, hostile: bool = True) -> FastAPI:
    app = FastAPI()
    for path, runnable in zoo_routes().items():
        add_routes(app, runnable, path=path, max_body_size=MAX_BODY, max_batch_size=MAX_BATCH)
    if hostile:
        # A configurable template: any string is schema-valid, but not every string is
        # a template, so these are for the hostile-input table, not for fuzzing.
        add_routes(app, configurable_template(), path="/template")
        # The same, but the server does not let clients configure it.
        add_routes(app, configurable_template(), path="/locked", config_keys=())
        # `strict=True`: what LangServe ignored (unknown keys, kwargs) is a 422.
        add_routes(app, RunnableLambda(add_one), path="/strict", strict=True)
    return app


zoo_app = make_zoo_app()
fuzz_app = make_zoo_app(hostile=False)


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
    except (asyncio.CancelledError, GeneratorExit):
        # Stopped early: cancelled while awaiting, or closed (aclose) while suspended
        # at `yield`, depending on where the disconnect finds it.
        STATE["stream_cancelled"] += 1
        raise
    finally:
        STATE["stream_finally"] += 1
        if MARKER_FILE:  # visible after the server process is gone (shutdown tests)
            with open(MARKER_FILE, "a") as marker:
                marker.write("stream finally\n")


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


def make_probe_app() -> FastAPI:
    app = FastAPI()
    options: dict[str, Any] = {
        "max_body_size": MAX_BODY,
        "max_batch_size": MAX_BATCH,
        "error_mapper": map_provider_errors,
    }
    add_routes(app, RunnableGenerator(ticks), path="/ticks", **options)
    add_routes(app, RunnableGenerator(slow_first_chunk), path="/slow_start", **options)
    add_routes(app, RunnableLambda(slow_invoke), path="/slow_invoke", **options)
    add_routes(app, RunnableLambda(echo), path="/echo", **options)
    add_routes(app, RunnableLambda(fail), path="/fail", **options)
    add_routes(app, RunnableGenerator(fail_midway), path="/fail_midway", **options)
    # The same failures on routes whose app opted in to showing exception text.
    add_routes(app, RunnableLambda(fail), path="/exposed/fail", expose_error_messages=True)
    add_routes(
        app,
        RunnableGenerator(fail_midway),
        path="/exposed/fail_midway",
        expose_error_messages=True,
    )
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


# --- what must never reach a client --------------------------------------------------

TENANT_SECRET = "tenant-secret-from-a-config-modifier"
CHAIN_INTERNAL = "chain-internal-metadata-value"


def tag_tenant(config: dict[str, Any], request: Any) -> dict[str, Any]:
    """A per-request modifier that puts internal (`__`) metadata on the run."""
    metadata = config.setdefault("metadata", {})
    metadata["__tenant"] = TENANT_SECRET
    metadata["tenant_visible"] = "ok"
    return config


def make_secrets_app() -> FastAPI:
    """Routes whose runs carry internal metadata or fail with a secret in the text;
    every output and callback event is on. No CORS middleware: that is the app's call."""
    app = FastAPI()
    chain = (
        ChatPromptTemplate.from_messages([("human", "{topic}")]) | chat_model() | StrOutputParser()
    ).with_config(metadata={"__internal": CHAIN_INTERNAL})
    options: dict[str, Any] = {
        "include_callback_events": True,
        "per_req_config_modifier": tag_tenant,
    }
    add_routes(app, chain, path="/chain", **options)
    add_routes(app, RunnableLambda(fail), path="/fail", **options)
    add_routes(app, RunnableGenerator(fail_midway), path="/fail_midway", **options)
    return app


secrets_app = make_secrets_app()


# --- client-side helpers for the tests that talk to these apps over a socket ---------


def poll_until(
    check: Callable[[], _T | None], *, timeout: float = 10.0, what: str = "condition"
) -> _T:
    """Call `check` until it returns something other than None; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        # Polling another process's state: there is no event to wait on.
        time.sleep(0.02)


def open_post(base_url: str, path: str, body: Any) -> socket.socket:
    """Send `POST path` with a JSON body over a plain socket and return the socket,
    so a test can leave at a moment of its choosing."""
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10)
    payload = orjson.dumps(body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    sock.sendall(head.encode() + payload)
    return sock


def read_until(sock: socket.socket, marker: bytes, count: int = 1) -> bytes:
    """Read from `sock` until `marker` was seen `count` times (bounded by its timeout)."""
    data = b""
    while data.count(marker) < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before {marker!r} x{count}: {data!r}")
        data += chunk
    return data


def leave(sock: socket.socket, *, reset: bool = False) -> None:
    """Close the client side: a normal FIN, or a TCP reset as a crashed client would."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
