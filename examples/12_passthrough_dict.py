r"""Example 12: LCEL dict passthrough; the input's keys flow through next to new ones.

Serves `/assistant`: input `{"question": str, "user_name": str}`, output the same
dict plus `answer` (from `prompt | model | parser`) and `question_words` (a plain
function). `RunnablePassthrough.assign` runs the new keys in parallel and streams:
`/stream` first sends the input keys, then `{"answer": token}` chunks as the model
produces them, and `{"question_words": n}` when that is ready.

Without an API key the model is langchain-core's `GenericFakeChatModel`, echoing
the question; with `OPENAI_API_KEY` set it is a real model through
`init_chat_model` (`pip install langchain langchain-openai`).

Run one of:

    python examples/12_passthrough_dict.py
    langserve-like serve examples/12_passthrough_dict.py:app

Then:

    curl -N http://127.0.0.1:8000/assistant/stream -H 'Content-Type: application/json' \
      -d '{"input": {"question": "What is LCEL?", "user_name": "Ada"}}'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from pydantic import BaseModel

from langserve_like import add_routes


class EchoingFakeModel(GenericFakeChatModel):
    """The fake chat model, answering by repeating the question."""

    messages: Iterator[AIMessage | str] = iter(())

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = f"A fake model cannot answer {messages[-1].text!r}, but it can stream it."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def chat_model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain.chat_models import init_chat_model  # pip install langchain

        return init_chat_model(os.environ.get("EXAMPLE_MODEL", "openai:gpt-4o-mini"))
    return EchoingFakeModel()


class Question(BaseModel):
    question: str
    user_name: str = "friend"


class Answer(Question):
    answer: str
    question_words: int


prompt = ChatPromptTemplate.from_messages(
    [("system", "Answer {user_name} in one sentence."), ("human", "{question}")]
)
chain = RunnablePassthrough.assign(
    answer=prompt | chat_model() | StrOutputParser(),
    question_words=lambda inputs: len(inputs["question"].split()),
).with_types(input_type=Question, output_type=Answer)

app = FastAPI(title="Dict passthrough")
add_routes(app, chain, path="/assistant")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
