"""The routes `test_dropin_server.py` calls, mounted by either library.

Both `dropin_langserve_app.py` (LangServe 0.3.3, its own virtualenv) and
`dropin_our_app.py` (langserve_like) call `mount` with their own `add_routes` and
`Serializer`, so every route is configured identically on both servers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi import FastAPI
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import (
    ConfigurableField,
    RunnableConfig,
    RunnableGenerator,
    RunnableLambda,
)

RUN_METADATA = ("__useragent", "__langserve_version", "__langserve_endpoint")


def add_one(x: int) -> int:
    return x + 1


async def fail_at_once(inputs: AsyncIterator[int]) -> AsyncIterator[int]:
    async for _ in inputs:
        raise ValueError("secret detail that must not reach the client")
    yield 0  # makes this an async generator; never reached


def run_metadata(x: int, config: RunnableConfig) -> dict[str, Any]:
    """What the runnable sees of the server's run metadata (values vary by server)."""
    metadata = config.get("metadata") or {}
    return {
        "keys": sorted(k for k in metadata if k in RUN_METADATA),
        "endpoint": metadata.get("__langserve_endpoint"),
        "useragent": metadata.get("__useragent"),
    }


class Money:
    """A user type no default serializer knows."""

    def __init__(self, cents: int) -> None:
        self.cents = cents


def to_money(x: int) -> Any:  # Any: LangServe cannot document Money
    return Money(x * 100)


def money_serializer(base: type) -> Any:
    """A serializer written for LangServe: only `dumps` and `loadd`."""

    def default(obj: Any) -> Any:
        if isinstance(obj, Money):
            return {"money": f"${obj.cents / 100:.2f}"}
        raise TypeError(type(obj).__name__)

    class MoneySerializer(base):  # type: ignore[misc, valid-type]
        def dumps(self, obj: Any) -> bytes:
            return orjson.dumps(obj, default=default)

        def loadd(self, obj: Any) -> Any:
            return obj

    return MoneySerializer()


def mount(app: FastAPI, add_routes: Callable[..., Any], serializer_base: type) -> None:
    configurable = PromptTemplate.from_template("Hello {name}!").configurable_fields(
        template=ConfigurableField(id="template", name="Template")
    )
    prompt = ChatPromptTemplate.from_messages([("human", "tell me about {topic}")])
    add_routes(app, RunnableLambda(add_one), path="/add_one")
    add_routes(app, configurable, path="/configurable", config_keys=("configurable", "tags"))
    add_routes(app, RunnableGenerator(fail_at_once), path="/fail_at_once")
    add_routes(app, prompt, path="/prompt")
    add_routes(app, RunnableLambda(run_metadata), path="/run_metadata")
    add_routes(
        app,
        RunnableLambda(run_metadata),
        path="/run_metadata_callbacks",
        include_callback_events=True,
    )
    allowed = RunnableLambda(add_one).with_config(run_name="allowed")
    add_routes(app, allowed, path="/allow_nothing", stream_log_name_allow_list=[])
    add_routes(app, allowed, path="/allow_all", stream_log_name_allow_list=None)
    add_routes(
        app,
        RunnableLambda(add_one),
        path="/token_feedback",
        token_feedback_config={"key_configs": [{"key": "correctness"}]},
    )
    add_routes(
        app,
        RunnableLambda(to_money),
        path="/money",
        serializer=money_serializer(serializer_base),
    )
