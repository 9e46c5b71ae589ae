"""The runnables both compatibility servers serve, built from langchain-core only.

`our_apps.py` mounts them with langserve_like, `langserve_zoo.py` with the real
LangServe 0.3.3 (another virtualenv), so the client probes can compare answers.
"""

import itertools
from collections.abc import AsyncIterator

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
    RunnableParallel,
)

JOKE = "hello world this is a joke"


def add_one(x: int) -> int:
    return x + 1


def find_docs(query: str) -> list[Document]:
    return [
        Document(page_content=f"first doc about {query}", metadata={"rank": 1}),
        Document(page_content=f"second doc about {query}", metadata={"rank": 2}),
    ]


def double(x: int) -> int:
    return x * 2


def as_text(x: int) -> str:
    return f"value={x}"


def reply_to(messages: list[AnyMessage]) -> list[AnyMessage]:
    return [*messages, AIMessage(content=f"you sent {len(messages)} messages")]


def shout(text: str) -> str:
    return text.upper()


async def fail_midway(inputs: AsyncIterator[str]) -> AsyncIterator[str]:
    async for text in inputs:
        yield f"partial:{text}"
    raise ValueError("secret detail that must not reach the client")


def chat_model() -> GenericFakeChatModel:
    # Strings, not one shared AIMessage: langchain-core writes the run id into the
    # message object it is given, so a shared message would leak ids across calls.
    return GenericFakeChatModel(messages=itertools.cycle([JOKE]))


def routes() -> dict[str, Runnable]:  # type: ignore[type-arg]
    """Path -> runnable, mounted at the app root (the router route is separate)."""
    prompt = ChatPromptTemplate.from_messages([("human", "tell me a joke about {topic}")])
    configurable_prompt = PromptTemplate.from_template("Hello {name}!").configurable_fields(
        template=ConfigurableField(
            id="template", name="Template", description="The prompt template"
        )
    )
    return {
        "/add_one": RunnableLambda(add_one),
        "/chat": prompt | chat_model(),
        "/chat_str": prompt | chat_model() | StrOutputParser(),
        "/docs": RunnableLambda(find_docs),
        "/parallel": RunnableParallel(doubled=RunnableLambda(double), as_text=as_text),
        "/configurable": configurable_prompt,
        "/messages": RunnableLambda(reply_to),
        "/fail": RunnableGenerator(fail_midway),
    }


ROUTER_PREFIX = "/router"
ROUTER_PATH = "/inner"


def router_runnable() -> Runnable:  # type: ignore[type-arg]
    return RunnableLambda(shout)
