r"""Example 1: prompt | chat model | parser, streamed token by token (the "joke" chain).

Serves `/joke`: input `{"topic": str}`, output `str`, with every endpoint LangServe
has (invoke, batch, stream, stream_log, stream_events, the schemas, the playground).

Without an API key the model is langchain-core's `GenericFakeChatModel`, taught to
write a joke about the prompt's topic and to pause between tokens so streaming is
visible. With `OPENAI_API_KEY` set it is a real model through `init_chat_model`
(`pip install langchain langchain-openai`; `EXAMPLE_MODEL=provider:model` picks
another one, e.g. `anthropic:claude-3-5-haiku-latest` with langchain-anthropic).

Run one of:

    python examples/01_joke_chain.py
    langserve-like serve examples/01_joke_chain.py:app

Then:

    curl -N http://127.0.0.1:8000/joke/stream \
      -H 'Content-Type: application/json' -d '{"input": {"topic": "parrots"}}'
    curl http://127.0.0.1:8000/joke/invoke \
      -H 'Content-Type: application/json' -d '{"input": {"topic": "parrots"}}'
    curl http://127.0.0.1:8000/joke/batch \
      -H 'Content-Type: application/json' -d '{"inputs": [{"topic": "cats"}, {"topic": "dogs"}]}'

and open http://127.0.0.1:8000/joke/playground/ in a browser.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate

from langserve_like import add_routes


class FakeJokeModel(GenericFakeChatModel):
    """The fake chat model, answering from its prompt instead of a fixed list of replies."""

    messages: Iterator[AIMessage | str] = iter(())
    delay: float = 0.05  # seconds before each token

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        topic = messages[-1].text.rsplit("joke about", 1)[-1].strip() or "server"
        joke = f"Why did the {topic} stream its answer? Waiting for a whole joke is no fun."
        # A fresh AIMessage per call: langchain-core writes the run id into it.
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=joke))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._stream(messages, stop, None, **kwargs):  # split into tokens
            await asyncio.sleep(self.delay)
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


def chat_model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain.chat_models import init_chat_model  # pip install langchain

        return init_chat_model(os.environ.get("EXAMPLE_MODEL", "openai:gpt-4o-mini"))
    return FakeJokeModel()


prompt = ChatPromptTemplate.from_template("Tell me a joke about {topic}")
chain = prompt | chat_model() | StrOutputParser()

app = FastAPI(title="Joke chain", description="prompt | chat model | parser")
add_routes(app, chain, path="/joke")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
