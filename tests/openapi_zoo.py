"""The zoo of runnables whose OpenAPI document tests/test_openapi.py pins."""

# No `from __future__ import annotations`: langchain-core reads these functions' type hints
# to build the input schemas and cannot resolve names from postponed annotations.

from typing import Any

from fastapi import FastAPI
from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import ConfigurableField, RunnableLambda
from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from langserve_like import CustomUserType, add_routes
from tests import runnables


class Question(BaseModel):
    """A question to answer."""

    text: str = Field(description="What to ask")
    max_words: int | None = None


class Pair(TypedDict):
    left: int
    right: int


def answer(q: Question) -> str:
    # As in LangServe, a plain pydantic input reaches the runnable as a dict...
    return f"answer to {q['text']}"  # type: ignore[index]


class Upload(CustomUserType):
    """...while a CustomUserType reaches it as the model itself."""

    filename: str
    size: int = 0


def describe_upload(upload: Upload) -> str:
    return f"{type(upload).__name__}:{upload.filename}"


def add_pair(p: Pair) -> dict[str, int]:
    return {"sum": p["left"] + p["right"]}


def dict_io(d: dict[str, Any]) -> dict[str, Any]:
    return {"keys": sorted(d)}


def count_messages(messages: list[BaseMessage]) -> int:
    return len(messages)


def build_app() -> FastAPI:
    app = FastAPI(title="zoo", version="1")
    add_routes(app, runnables.joke_chain(), path="/chat")
    add_routes(app, RunnableLambda(dict_io), path="/dict")
    add_routes(app, RunnableLambda(add_pair), path="/typed_dict")
    add_routes(app, RunnableLambda(answer), path="/pydantic")
    add_routes(app, RunnableLambda(describe_upload), path="/custom_type")
    add_routes(app, RunnableLambda(count_messages), path="/messages")
    add_routes(app, runnables.configurable_prompt(), path="/configurable_fields")
    polite = ChatPromptTemplate.from_template("Please tell me about {topic}")
    rude = ChatPromptTemplate.from_template("Tell me about {topic}, now")
    add_routes(
        app,
        polite.configurable_alternatives(
            ConfigurableField(id="style"), default_key="polite", rude=rude
        ),
        path="/alternatives",
    )
    add_routes(app, runnables.lambda_a(), path="/lambda_a")
    add_routes(app, runnables.lambda_b(), path="/lambda_b")
    add_routes(app, PromptTemplate.from_template("{x}"), path="/nested/route-name")
    return app
