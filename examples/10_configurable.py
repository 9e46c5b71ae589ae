r"""Example 10: configurable fields and configurable alternatives, chosen per request.

Serves `/writer`: input `{"topic": str}`, output a string. Two things are
configurable through `config.configurable` (see `GET /writer/config_schema`):

* `kind`, a configurable *alternative*: the prompt is a `joke` (default) or a `poem`;
* `voice`, a configurable *field* of the fake model: `plain` (default) or `pirate`.
  With a real model (`OPENAI_API_KEY`, `pip install langchain langchain-openai`)
  the configurable field is `temperature` instead.

The playground shows both as a form. A configuration can also travel in the URL as
LangServe's `/c/{config_hash}/` segment (LZString of the config JSON).

Run one of:

    python examples/10_configurable.py
    langserve-like serve examples/10_configurable.py:app

Then:

    curl http://127.0.0.1:8000/writer/invoke -H 'Content-Type: application/json' \
      -d '{"input": {"topic": "the sea"}, "config": {"configurable": {"kind": "poem"}}}'
    curl -N http://127.0.0.1:8000/writer/stream -H 'Content-Type: application/json' \
      -d '{"input": {"topic": "the sea"}, "config": {"configurable": {"voice": "pirate"}}}'
    curl http://127.0.0.1:8000/writer/config_schema
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import ConfigurableField, Runnable

from langserve_like import add_routes


class FakeWriter(GenericFakeChatModel):
    """The fake chat model, writing what the prompt asks for in the configured voice."""

    messages: Iterator[AIMessage | str] = iter(())
    voice: Literal["plain", "pirate"] = "plain"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = messages[-1].text
        topic = request.rsplit(" about ", 1)[-1]
        if request.startswith("Write a poem"):
            text = f"Of {topic} I sing, / a stream of words, / one token at a time."
        else:
            text = f"Why did {topic} cross the road? To reach the other endpoint."
        if self.voice == "pirate":
            text = f"Arr, matey! {text} Yo ho!"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def configurable_model() -> Runnable[Any, BaseMessage]:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain.chat_models import init_chat_model  # pip install langchain

        real = init_chat_model(os.environ.get("EXAMPLE_MODEL", "openai:gpt-4o-mini"))
        return real.configurable_fields(
            temperature=ConfigurableField(id="temperature", name="Temperature")
        )
    return FakeWriter().configurable_fields(
        voice=ConfigurableField(
            id="voice", name="Voice", description="plain or pirate (a field of the model)"
        )
    )


prompt = ChatPromptTemplate.from_template("Tell me a joke about {topic}").configurable_alternatives(
    ConfigurableField(id="kind", name="Kind", description="What to write"),
    default_key="joke",
    poem=ChatPromptTemplate.from_template("Write a poem about {topic}"),
)
chain = prompt | configurable_model() | StrOutputParser()

app = FastAPI(title="Configurable chain")
add_routes(app, chain, path="/writer")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
