"""The keyless demo behind `langserve-like demo`: real chains, a fake chat model.

Routes:

* `/joke`: `ChatPromptTemplate | chat model | StrOutputParser`, input `{"topic": str}`;
* `/chat`: a message list in, an `AIMessage` out, with the chat playground.

The model is langchain-core's `GenericFakeChatModel`, taught to answer from its
prompt and to pause between tokens, so `curl -N .../joke/stream` visibly streams
word by word without an API key, a network or a model download.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from langserve_like.server.routes import add_routes

__all__ = ["DemoChatModel", "create_app"]

_JOKES = (
    "Why did the {topic} refuse to buffer? It wanted every word to arrive on its own.",
    "I asked the {topic} for a joke over HTTP. It said: invoke me once, I will stream the rest.",
    "What do you call the {topic} behind a reverse proxy? Well served.",
    "The {topic} walked into a server. The server said: sorry, we only take JSON.",
)


def _last_human_text(messages: list[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def demo_reply(messages: list[BaseMessage]) -> str:
    """A deterministic answer that depends on the prompt, so the output shows the input."""
    text = _last_human_text(messages).strip()
    marker = "joke about "
    if marker in text:
        topic = text.split(marker, 1)[1].strip(" .?!") or "thing"
        return _JOKES[sum(map(ord, topic)) % len(_JOKES)].format(topic=topic)
    turns = sum(isinstance(m, HumanMessage) for m in messages)
    return (
        f"You said: {text!r}. This is message {turns} of our chat. I am a fake model, "
        "so I can only repeat you, but every word you see was streamed separately."
    )


class DemoChatModel(GenericFakeChatModel):
    """`GenericFakeChatModel` that answers from the prompt and streams at a readable pace.

    The parent takes a fixed iterator of replies; this one builds a fresh `AIMessage`
    per call (a shared message object would carry one run's id into the next).
    """

    messages: Iterator[AIMessage | str] = iter(())
    delay: float = 0.04
    """Seconds to wait before each streamed token."""

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(content=demo_reply(messages))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # The parent splits the reply into tokens; the pause makes streaming visible.
        for chunk in self._stream(messages, stop, None, **kwargs):
            if self.delay:
                await asyncio.sleep(self.delay)
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


def create_app(delay: float = 0.04) -> FastAPI:
    """The demo app; `delay` is the pause before each streamed token, in seconds."""
    model = DemoChatModel(delay=delay)
    # Swagger UI's files come from the app, so /docs works without internet.
    app = FastAPIOffline(
        title="langserve-like demo",
        description="Keyless demo: LangChain chains served over HTTP with a fake chat model.",
    )
    joke = ChatPromptTemplate.from_template("Tell me a joke about {topic}") | model
    add_routes(app, (joke | StrOutputParser()).with_config(run_name="joke"), path="/joke")
    chat = (
        ChatPromptTemplate.from_messages(
            [("system", "You are a friendly assistant."), MessagesPlaceholder("messages")]
        )
        | model
    )
    add_routes(app, chat.with_config(run_name="chat"), path="/chat", playground_type="chat")

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("joke/playground/")

    return app
