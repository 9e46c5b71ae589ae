"""Small runnables shared by the server-core tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import ConfigurableField, RunnableGenerator, RunnableLambda


def add_one(x: int) -> int:
    return x + 1


def fresh_messages(text: str = "hello world this is a joke") -> Iterator[AIMessage]:
    # A new message per call: langchain-core writes run ids into the message object.
    while True:
        yield AIMessage(content=text)


def chat_model(text: str = "hello world this is a joke") -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=fresh_messages(text))


def joke_chain() -> Any:
    prompt = ChatPromptTemplate.from_template("tell me a joke about {topic}")
    return prompt | chat_model()


def joke_text_chain() -> Any:
    return joke_chain() | StrOutputParser()


def configurable_prompt() -> Any:
    return PromptTemplate.from_template("Hello {name}!").configurable_fields(
        template=ConfigurableField(
            id="template", name="Template", description="The prompt template"
        )
    )


def find_docs(query: str) -> list[Document]:
    return [
        Document(page_content=f"first doc about {query}", metadata={"rank": 1}),
        Document(page_content=f"second doc about {query}", metadata={"rank": 2}),
    ]


def echo_messages(messages: list[BaseMessage]) -> list[BaseMessage]:
    return messages


def fail(x: Any) -> Any:
    raise ValueError("secret database password in this message")


async def fail_after_two(chunks: AsyncIterator[Any]) -> AsyncIterator[str]:
    async for _ in chunks:
        pass
    yield "one"
    yield "two"
    raise ValueError("secret stream failure")


def failing_stream() -> Any:
    return RunnableGenerator(fail_after_two)


def lambda_a() -> Any:
    return RunnableLambda(lambda x: x * 2)  # anonymous: RunnableLambdaInput/Output


def lambda_b() -> Any:
    return RunnableLambda(lambda x: f"{x}!")
