"""The runnables every benchmarked server serves, built from langchain-core only.

Imported by all three apps, including LangServe's (its own virtualenv), so nothing
here may import langserve_like.
"""

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from benchmarks.apps import CHUNKS, JOKE, SLOW_CHUNKS, SLOW_INTERVAL


async def add_one(x: int) -> int:
    return x + 1


def add_one_sync(x: int) -> int:
    return x + 1


async def hundred_chunks(inputs: AsyncIterator[str]) -> AsyncIterator[str]:
    async for _ in inputs:
        pass
    for i in range(CHUNKS):
        yield f"tok{i} "


async def slow_chunks(inputs: AsyncIterator[str]) -> AsyncIterator[str]:
    async for _ in inputs:
        pass
    for i in range(SLOW_CHUNKS):
        await asyncio.sleep(SLOW_INTERVAL)
        yield f"slow{i} "


def chat_chain() -> Runnable[Any, Any]:
    prompt = ChatPromptTemplate.from_messages([("human", "tell me a joke about {topic}")])
    model = GenericFakeChatModel(messages=itertools.cycle([JOKE]))
    return prompt | model | StrOutputParser()


def routes() -> dict[str, Runnable[Any, Any]]:
    """Path -> runnable; the same table for every server."""
    return {
        "/lambda": RunnableLambda(add_one),
        "/chat": chat_chain(),
        "/gen": RunnableGenerator(hundred_chunks),
        "/slow": RunnableGenerator(slow_chunks),
        # Last, so that the four runnables are mounted as they were measured.
        "/lambda_sync": RunnableLambda(add_one_sync),
    }
