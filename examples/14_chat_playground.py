r"""Example 14: the chat playground (`add_routes(..., playground_type="chat")`).

Serves `/chat`: input `{"messages": [...]}` (the whole conversation, oldest first),
output the model's `AIMessage`. `playground_type="chat"` gives the route a chat
window instead of a form: it keeps the history in the page and sends it with each
turn, and streams the reply in.

Without an API key the model is langchain-core's `GenericFakeChatModel`, taught to
answer from the conversation and to stream word by word; with `OPENAI_API_KEY` set
it is a real model through `init_chat_model` (`pip install langchain
langchain-openai`).

Run one of:

    python examples/14_chat_playground.py
    langserve-like serve examples/14_chat_playground.py:app

Then open http://127.0.0.1:8000/chat/playground/, or:

    curl -N http://127.0.0.1:8000/chat/stream -H 'Content-Type: application/json' \
      -d '{"input": {"messages": [{"type": "human", "content": "Hello!"},
           {"type": "ai", "content": "Hi!"}, {"type": "human", "content": "How are you?"}]}}'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from pydantic import BaseModel

from langserve_like import add_routes


class ChattyFakeModel(GenericFakeChatModel):
    """The fake chat model, answering from the conversation so far."""

    messages: Iterator[AIMessage | str] = iter(())

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turns = [m.text for m in messages if isinstance(m, HumanMessage)]
        text = f"Turn {len(turns)}: you said {turns[-1]!r}." if turns else "Say something!"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def chat_model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain.chat_models import init_chat_model  # pip install langchain

        return init_chat_model(os.environ.get("EXAMPLE_MODEL", "openai:gpt-4o-mini"))
    return ChattyFakeModel()


class Conversation(BaseModel):
    messages: list[AnyMessage]


prompt = ChatPromptTemplate.from_messages(
    [("system", "You are a friendly assistant."), MessagesPlaceholder("messages")]
)
chain = (prompt | chat_model()).with_types(input_type=Conversation)

app = FastAPI(title="Chat playground")
add_routes(app, chain, path="/chat", playground_type="chat")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
